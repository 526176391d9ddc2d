export function getWebSocketProxyAgent(_url: string): undefined {
  return undefined
}
export function getWebSocketProxyUrl(_url: string): undefined {
  return undefined
}
