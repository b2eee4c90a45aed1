// The HTTP API, called from the page's own origin with the bearer kept in
// sessionStorage. Paths are relative: on API Gateway the page sits under
// its stage (/prod/), and so do the routes.

import type { ErrorDetail } from "./types";

const KEY = "slipway.token";

export function token(): string | null {
  return sessionStorage.getItem(KEY);
}

export function signIn(value: string) {
  sessionStorage.setItem(KEY, value);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  location.hash = "#/signin";
}

/** A refusal of the API, with its error body. */
export class Refused extends Error {
  constructor(public status: number, public detail: ErrorDetail) {
    super(detail.message);
  }
}

/** The API could not be reached: worth trying again. */
export class Unreachable extends Error {}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let resp: Response;
  try {
    resp = await fetch(path.replace(/^\//, ""), {
      method,
      headers: {
        Authorization: `Bearer ${token() ?? ""}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Unreachable("cannot reach the API; check your connection and try again");
  }
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (resp.status === 401) {
    signOut();
  }
  if (!resp.ok) {
    throw new Refused(resp.status, data?.error ?? { code: "error", message: `the API answered ${resp.status}` });
  }
  return data as T;
}
