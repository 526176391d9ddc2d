// Stand-in for Claude Code's config: the base URL of the server under test.
export function getOauthConfig(): { BASE_API_URL: string } {
  return { BASE_API_URL: process.env.SEED_BASE_URL ?? '' }
}
