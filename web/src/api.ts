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

/** The limit the API signs into every upload URL. */
export const MAX_ARCHIVE_BYTES = 500 * 1024 * 1024;

/** The archive format the API expects for a file, or why it is refused. */
export function archiveFormat(file: File): { format: "zip" | "tar.gz" } | { error: string } {
  const name = file.name.toLowerCase();
  const format = name.endsWith(".zip") ? "zip" : name.endsWith(".tar.gz") || name.endsWith(".tgz") ? "tar.gz" : null;
  if (!format) return { error: `${file.name} is not a .zip or a .tar.gz` };
  if (file.size === 0) return { error: `${file.name} is empty` };
  if (file.size > MAX_ARCHIVE_BYTES) return { error: `${file.name} is ${(file.size / 1e6).toFixed(0)} MB; archives may have up to 500 MB` };
  return { format };
}

/** PUTs `file` straight to its presigned URL, reporting progress (0..1). */
export function putArchive(ticket: import("./types").UploadTicket, file: File, progress: (done: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", ticket.uploadUrl);
    for (const [name, value] of Object.entries(ticket.headers)) {
      // The browser sets the length itself (and refuses to be told it).
      if (name.toLowerCase() !== "content-length") xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => e.lengthComputable && progress(e.loaded / e.total);
    xhr.onload = () => (xhr.status < 300 ? (progress(1), resolve()) : reject(new Error(`the upload was refused (${xhr.status}); try again`)));
    xhr.onerror = () => reject(new Unreachable("the upload did not get through; check your connection and try again"));
    xhr.send(file);
  });
}
