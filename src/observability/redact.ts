/** Query parameters that carry a callback credential, compared by their decoded, lower-cased name. */
const SECRET_PARAMS = new Set(['token', 'sig']);

function decodedName(raw: string): string {
  let name = raw.replace(/\+/g, ' ');
  try {
    name = decodeURIComponent(name);
  } catch {
    // not valid percent-encoding: judge it as written
  }
  // `token[]`, `token[0]`: the same parameter to most query parsers.
  return name.replace(/\[.*$/, '').trim().toLowerCase();
}

/**
 * A request URL fit for a log line: every credential parameter's value replaced, however the
 * request spells it (repeated, upper case, `token[]`, percent-encoded names).
 */
export function redactUrl(url: string): string {
  const mark = url.indexOf('?');
  if (mark < 0) return url;
  const pairs = url
    .slice(mark + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals < 0 ? pair : pair.slice(0, equals);
      return SECRET_PARAMS.has(decodedName(name)) ? `${name}=<redacted>` : pair;
    });
  return `${url.slice(0, mark)}?${pairs.join('&')}`;
}
