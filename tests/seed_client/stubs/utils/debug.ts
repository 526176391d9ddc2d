export function logForDebugging(message: string): void {
  if (process.env.SEED_DEBUG) console.error(message)
}
