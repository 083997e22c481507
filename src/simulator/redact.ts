/** Query parameters of a callback URL that prove it: never shown by the simulator. */
const PROOF_PARAMS = ['token', 'sig'];

/** The callback URL as the simulator shows it: its proof replaced, so no inspection reveals a secret. */
export function redactCallbackUrl(url: string): string {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  let changed = false;
  for (const name of [...parsed.searchParams.keys()]) {
    if (PROOF_PARAMS.includes(name.toLowerCase())) {
      parsed.searchParams.set(name, 'redacted');
      changed = true;
    }
  }
  return changed ? parsed.toString() : url;
}

/** A submitted body as the simulator echoes it (`param`): the callback URL's proof redacted. */
export function redactedBody(body: Record<string, unknown>): Record<string, unknown> {
  return typeof body.callBackUrl === 'string'
    ? { ...body, callBackUrl: redactCallbackUrl(body.callBackUrl) }
    : body;
}
