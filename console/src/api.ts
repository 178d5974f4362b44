/**
 * The console's only way to the server: the public REST APIs, with the signed-in user's token.
 *
 * Every answer that is not 2xx becomes an ApiError carrying the contract's envelope
 * ({"error": {code, message, details[]}}), so pages show the server's own message.
 */
import { accessToken, refresh, signIn } from "./auth";

export interface ErrorDetail {
  code?: string;
  message?: string;
  target?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }

  /** The message and each detail, as a person reads them. */
  get text(): string {
    const details = this.details.map((d) => (d.target ? `${d.target}: ${d.message}` : d.message ?? ""));
    return [`${this.message} (${this.status} ${this.code})`, ...details].join("\n");
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** A raw body (a file) sent as is, with this content type. */
  raw?: Blob | ArrayBuffer;
  contentType?: string;
  headers?: Record<string, string>;
  /** Requests sent without the Authorization header (signed URLs). */
  anonymous?: boolean;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** An absolute URL of this server for a path ("/itwins"), or the URL itself. A link of the server's on
 * another loopback name of this page's port (127.0.0.1 for a page opened at localhost) is taken at this page's
 * origin: the browser would treat it as another site (no CORS there, and no sign-in). */
export function url(path: string): string {
  if (!path.startsWith("http")) return `${location.origin}${path}`;
  const target = new URL(path);
  if (target.origin !== location.origin && LOOPBACK.has(target.hostname) && LOOPBACK.has(location.hostname) && target.port === location.port) {
    return `${location.origin}${target.pathname}${target.search}`;
  }
  return path;
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = response.statusText || "Error";
  let message = `The server answered ${response.status}.`;
  let details: ErrorDetail[] = [];
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
      details = body.error.details ?? [];
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message, details);
}

export async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {
    Accept: "application/vnd.bentley.itwin-platform.v1+json",
    ...options.headers,
  };
  if (!options.anonymous) {
    await refresh(); // pages that stay open (run states) outlive an access token
    const token = accessToken();
    if (!token) {
      signIn();
      throw new ApiError(401, "SignInRequired", "Sign in first.");
    }
    headers.Authorization = `Bearer ${token}`;
  }
  let body: BodyInit | undefined;
  if (options.raw !== undefined) {
    body = options.raw;
    headers["Content-Type"] = options.contentType ?? "application/octet-stream";
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url(path), { method: options.method ?? "GET", headers, body });
  if (!response.ok && response.status !== 303) throw await errorOf(response);
  return response;
}

/** A JSON answer (null for 204). */
export async function json<T = any>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await request(path, options);
  if (response.status === 204) return null as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : null) as T;
}

/** One page of a list: its items (under `key`) and the link to the next page, if any. */
export interface Page<T> {
  items: T[];
  next: string | null;
}

export async function page<T = any>(path: string, key: string): Promise<Page<T>> {
  const body = await json(path);
  return { items: (body?.[key] ?? []) as T[], next: body?._links?.next?.href ?? null };
}
