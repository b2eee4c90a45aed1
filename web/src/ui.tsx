// Pieces every page uses: the route, polling, errors, fields, badges.

import { useEffect, useState } from "preact/hooks";
import { Refused, Unreachable } from "./api";
import type { DeploymentView } from "./types";

/** Which page the URL's fragment names. */
export function route(): string[] {
  return location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
}

export function useRoute(): string[] {
  const [r, setR] = useState(route());
  useEffect(() => {
    const on = () => setR(route());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return r;
}

/** Calls `load` now and, while `again` says so, every two seconds. */
export function usePoll<T>(load: () => Promise<T>, again: (t: T) => boolean, key: string) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stop = false;
    let timer = 0;
    const run = async () => {
      try {
        const t = await load();
        if (stop) return;
        setData(t);
        setError(null);
        if (again(t)) timer = setTimeout(run, 2000);
      } catch (e) {
        if (!stop) setError(e as Error);
      }
    };
    run();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [key, tick]);
  return { data, error, reload: () => setTick(tick + 1) };
}

export function Problem({ error, retry }: { error: Error | null; retry?: () => void }) {
  if (!error) return null;
  if (error instanceof Unreachable) {
    return (
      <div class="banner" role="alert">
        {error.message} {retry && <button onClick={retry}>Try again</button>}
      </div>
    );
  }
  if (error instanceof Refused && error.status === 404) {
    return <div class="banner" role="alert">Not found: {error.message}. <a href="#/">Back to your apps</a></div>;
  }
  return <div class="banner" role="alert">{error.message}</div>;
}

export function Badge({ status }: { status: string }) {
  return <span class={`badge ${status}`} data-status={status}>{status}</span>;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString();
}

export function seconds(d: DeploymentView): string {
  const ms = Object.values(d.phases).reduce((sum, p) => sum + (p.millis ?? 0), 0);
  return ms ? `${(ms / 1000).toFixed(1)} s` : "—";
}

/** `KEY=VALUE` lines, as a map. */
export function vars(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (line.trim() && at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return Object.keys(out).length ? out : undefined;
}

export function Field(props: {
  id: string; label: string; errors: Record<string, string>; value: string;
  set: (v: string) => void; type?: string; hint?: string; multiline?: boolean; required?: boolean;
}) {
  const { id, label, errors, value, set } = props;
  const error = errors[id];
  const input = (e: Event) => set((e.target as HTMLInputElement).value);
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {props.multiline
        ? <textarea id={id} value={value} onInput={input} aria-invalid={!!error} aria-describedby={`${id}-error`} />
        : <input id={id} type={props.type ?? "text"} value={value} onInput={input} required={props.required}
            autocomplete="off" aria-invalid={!!error} aria-describedby={`${id}-error`} />}
      {props.hint && <small>{props.hint}</small>}
      <p class="error" id={`${id}-error`} role={error ? "alert" : undefined}>{error ?? ""}</p>
    </div>
  );
}

export function Copy({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button type="button" class="small" aria-label={`Copy ${label}`}
      onClick={async () => { await navigator.clipboard?.writeText(text); setDone(true); }}>
      {done ? "Copied" : "Copy"}
    </button>
  );
}

export function Progress({ value }: { value: number | null }) {
  if (value === null) return null;
  const pct = Math.round(value * 100);
  return (
    <div class="progress">
      <progress max={100} value={pct} aria-label="Upload progress" /> <span data-progress>{pct} %</span>
    </div>
  );
}
