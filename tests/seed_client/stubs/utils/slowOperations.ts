export const jsonParse = (text: string): unknown => JSON.parse(text)
export const jsonStringify = (value: unknown): string => JSON.stringify(value)
