export type SDKControlCancelRequest = { type: 'control_cancel_request'; request_id: string }
export type SDKControlRequestInner = { subtype: string; [key: string]: unknown }
export type SDKControlRequest = { type: 'control_request'; request_id: string; request: SDKControlRequestInner }
export type SDKControlResponse = { type: 'control_response'; [key: string]: unknown }
