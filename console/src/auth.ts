/**
 * Sign-in through the built-in issuer: the authorization code flow with PKCE, as a real client does it.
 *
 * The issuer consents at once (it signs in TWINBRIDGE_SIGN_IN_USER), so signing in is two redirects. Tokens
 * live in sessionStorage: they go with the browser tab, and a refresh token renews the access token.
 */
const CLIENT_ID = "twinbridge-console";
const SCOPE = "itwin-platform offline_access openid";
const STORAGE_KEY = "twinbridge.console.tokens";
const PENDING_KEY = "twinbridge.console.pending";

interface Tokens {
  access_token: string;
  refresh_token?: string;
  expires_at: number; // ms since the epoch
  user: string;
}

function redirectUri(): string {
  return `${location.origin}/console/`;
}

function base64Url(bytes: ArrayBuffer | Uint8Array): string {
  const array = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let text = "";
  for (const byte of array) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(32)));
}

function stored(): Tokens | null {
  const text = sessionStorage.getItem(STORAGE_KEY);
  return text ? (JSON.parse(text) as Tokens) : null;
}

function subjectOf(token: string): string {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return String(payload.preferred_username ?? payload.sub ?? "");
  } catch {
    return "";
  }
}

function keep(body: any): void {
  const tokens: Tokens = {
    access_token: body.access_token,
    refresh_token: body.refresh_token,
    expires_at: Date.now() + Number(body.expires_in ?? 3600) * 1000,
    user: subjectOf(body.access_token),
  };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
}

async function tokenRequest(parameters: Record<string, string>): Promise<any> {
  const response = await fetch(`${location.origin}/connect/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: CLIENT_ID, ...parameters }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error_description ?? body.error ?? `token request: ${response.status}`);
  return body;
}

/** The access token, or null when signed out. Renewed (with the refresh token) by `refresh`. */
export function accessToken(): string | null {
  return stored()?.access_token ?? null;
}

export function currentUser(): string | null {
  return stored()?.user ?? null;
}

// Set while this page is on its way to the issuer, so that several requests failing at once send it once.
// (Not kept in sessionStorage: a sign-in abandoned there would otherwise block every later one.)
let leaving = false;

/** Goes to the issuer's authorize endpoint; the browser comes back to /console/?code=… */
export async function signIn(): Promise<void> {
  if (leaving) return;
  leaving = true;
  const verifier = randomString();
  const state = randomString();
  const challenge = base64Url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, hash: location.hash }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: redirectUri(),
    scope: SCOPE,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(`${location.origin}/connect/authorize?${query}`);
}

/** On the way back from the issuer: trades the code for tokens. True when a sign-in completed. */
export async function completeSignIn(): Promise<boolean> {
  const query = new URLSearchParams(location.search);
  const pendingText = sessionStorage.getItem(PENDING_KEY);
  if (!query.has("code") && !query.has("error")) return false;
  sessionStorage.removeItem(PENDING_KEY);
  const pending = pendingText ? JSON.parse(pendingText) : null;
  history.replaceState(null, "", `/console/${pending?.hash ?? ""}`);
  if (query.has("error")) throw new Error(query.get("error_description") ?? query.get("error") ?? "sign-in failed");
  if (!pending || pending.state !== query.get("state")) throw new Error("The sign-in answer does not match its request.");
  keep(
    await tokenRequest({
      grant_type: "authorization_code",
      code: query.get("code") ?? "",
      redirect_uri: redirectUri(),
      code_verifier: pending.verifier,
    }),
  );
  return true;
}

// The refresh in flight: the issuer rotates refresh tokens and takes a second use of one for a stolen token
// (it revokes the whole sign-in), so requests that find the token expiring at once share one refresh.
let renewing: Promise<boolean> | null = null;

/** Renews the access token when it expires within a minute; false when there is no way to (sign in again). */
export async function refresh(): Promise<boolean> {
  const tokens = stored();
  if (!tokens) return false;
  if (tokens.expires_at - Date.now() > 60_000) return true;
  if (!tokens.refresh_token) return false;
  renewing ??= tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token })
    .then((body) => {
      keep(body);
      return true;
    })
    .catch(() => {
      sessionStorage.removeItem(STORAGE_KEY);
      return false;
    })
    .finally(() => {
      renewing = null;
    });
  return renewing;
}

/** Revokes the sign-in at the issuer and forgets the tokens. */
export async function signOut(): Promise<void> {
  const tokens = stored();
  sessionStorage.removeItem(STORAGE_KEY);
  if (tokens?.refresh_token) {
    await fetch(`${location.origin}/connect/revocation`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: tokens.refresh_token, client_id: CLIENT_ID }),
    }).catch(() => undefined);
  }
}
