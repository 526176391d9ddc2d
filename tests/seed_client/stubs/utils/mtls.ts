export function getWebSocketTLSOptions(): undefined {
  return undefined
}
