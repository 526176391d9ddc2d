export type SDKMessage = { type: string; [key: string]: unknown }
