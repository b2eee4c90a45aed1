import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { archiveFormat, call, putArchive, Refused, signIn, signOut, token, Unreachable } from "./api";
import type { AppView, DeploymentView, LogPage, Queued, UploadTicket, Webhook } from "./types";
import { IN_PROGRESS } from "./types";

/** Which page the URL's fragment names. */
function route(): string[] {
  return location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
}

function useRoute(): string[] {
  const [r, setR] = useState(route());
  useEffect(() => {
    const on = () => setR(route());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return r;
}

/** Calls `load` now and, while `again` says so, every two seconds. */
function usePoll<T>(load: () => Promise<T>, again: (t: T) => boolean, key: string) {
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

function Problem({ error, retry }: { error: Error | null; retry?: () => void }) {
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

function Badge({ status }: { status: string }) {
  return <span class={`badge ${status}`} data-status={status}>{status}</span>;
}

function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString();
}

function seconds(d: DeploymentView): string {
  const ms = Object.values(d.phases).reduce((sum, p) => sum + (p.millis ?? 0), 0);
  return ms ? `${(ms / 1000).toFixed(1)} s` : "—";
}

function SignIn() {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    signIn(value.trim());
    try {
      await call("GET", "apps");
      location.hash = "#/";
    } catch (err) {
      setError(err instanceof Refused ? "That token is not valid." : (err as Error).message);
    }
  };
  return (
    <main class="narrow">
      <h1>Sign in to Slipway</h1>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input id="token" type="password" autocomplete="off" value={value} required
          onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit">Sign in</button>
      </form>
      <p class="hint">An operator makes one with <code>slipway-admin mint-token &lt;you&gt;</code>. It stays in this tab only.</p>
    </main>
  );
}

function Apps() {
  const { data, error, reload } = usePoll(
    () => call<{ apps: AppView[] }>("GET", "apps"),
    (d) => d.apps.some((a) => IN_PROGRESS.includes(a.status)),
    "apps",
  );
  return (
    <main>
      <div class="head">
        <h1>Applications</h1>
        <a class="button" href="#/new">Create application</a>
      </div>
      <Problem error={error} retry={reload} />
      {data && data.apps.length === 0 && <p>No apps yet. <a href="#/new">Create one</a>.</p>}
      {data && data.apps.length > 0 && (
        <table>
          <thead><tr><th>Name</th><th>Source</th><th>Status</th><th>URL</th><th>Last change</th></tr></thead>
          <tbody>
            {data.apps.map((a) => (
              <tr key={a.id}>
                <td><a href={`#/apps/${a.id}`}>{a.name}</a></td>
                <td>{a.source.type === "git" ? `${a.source.repo}@${a.source.branch}` : "upload"}</td>
                <td><Badge status={a.status} /></td>
                <td><a href={a.url} target="_blank" rel="noreferrer">{a.url}</a></td>
                <td>{when(a.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

/** `KEY=VALUE` lines, as a map. */
function vars(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (line.trim() && at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return Object.keys(out).length ? out : undefined;
}

function Field(props: {
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

/** Uploads `file` as the app's next archive and deploys it. */
async function uploadAndDeploy(appId: string, file: File, progress: (p: number) => void): Promise<Queued> {
  const checked = archiveFormat(file);
  if ("error" in checked) throw new Error(checked.error);
  const ticket = await call<UploadTicket>("POST", `apps/${appId}/source`, { format: checked.format, size: file.size });
  await putArchive(ticket, file, progress);
  return call<Queued>("POST", `apps/${appId}/deploy`);
}

function Progress({ value }: { value: number | null }) {
  if (value === null) return null;
  const pct = Math.round(value * 100);
  return (
    <div class="progress">
      <progress max={100} value={pct} aria-label="Upload progress" /> <span data-progress>{pct} %</span>
    </div>
  );
}

function NewApp() {
  const [kind, setKind] = useState<"git" | "upload">("git");
  const [f, setF] = useState<Record<string, string>>({ branch: "main", port: "80" });
  const [file, setFile] = useState<File | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<number | null>(null);
  const field = (id: string, label: string, extra: Partial<Parameters<typeof Field>[0]> = {}) => (
    <Field id={id} label={label} errors={errors} value={f[id] ?? ""} set={(v) => setF({ ...f, [id]: v })} {...extra} />
  );
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setMessage(null);
    const opt = (k: string) => (f[k]?.trim() ? f[k].trim() : undefined);
    const num = (k: string) => (opt(k) === undefined ? undefined : Number(opt(k)));
    if (kind === "upload") {
      const checked = file ? archiveFormat(file) : { error: "choose a .zip or .tar.gz of your app's folder" };
      if ("error" in checked) {
        setErrors({ archive: checked.error });
        return;
      }
    }
    setBusy(true);
    let created: string | null = null;
    try {
      // POST /deploy updates an app of the same name: creating here must
      // not change another app by accident. (POST /apps answers 409 itself.)
      const { apps } = kind === "git" ? await call<{ apps: AppView[] }>("GET", "apps") : { apps: [] };
      if (apps.some((a) => a.name === opt("name"))) {
        setErrors({ name: `You already have an app named ${opt("name")}; open it from the list to change it, or choose another name.` });
        return;
      }
      const common = {
        name: opt("name"), port: num("port"), dockerfile: opt("dockerfile"), context: opt("context"),
        cpu: num("cpu"), memory: num("memory"), domain: opt("domain"),
        env: vars(f.env ?? ""), secrets: vars(f.secrets ?? ""),
      };
      if (kind === "git") {
        const q = await call<Queued>("POST", "deploy", {
          ...common, repo: opt("repo"), branch: opt("branch"), repoToken: opt("repoToken"),
        });
        location.hash = `#/apps/${q.appId}`;
      } else {
        const app = await call<AppView>("POST", "apps", common);
        created = app.id;
        setProgress(0);
        await uploadAndDeploy(app.id, file!, setProgress);
        location.hash = `#/apps/${app.id}`;
      }
    } catch (err) {
      if (err instanceof Refused && err.detail.field) {
        const name = err.detail.field.split(".")[0];
        setErrors({ [name === "size" ? "archive" : name]: err.detail.message });
      } else {
        setMessage((err as Error).message);
      }
      if (created) setMessage(`The app was created but its first archive did not go up: ${(err as Error).message}. Open it to try again.`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="narrow">
      <h1>Create application</h1>
      <div class="toggle" role="radiogroup" aria-label="Source">
        <label><input type="radio" name="kind" checked={kind === "git"} onChange={() => setKind("git")} /> Git repository</label>
        <label><input type="radio" name="kind" checked={kind === "upload"} onChange={() => setKind("upload")} /> Upload source code</label>
      </div>
      <form onSubmit={submit} noValidate>
        {field("name", "App name", { required: true, hint: "lowercase letters, digits and '-'" })}
        {kind === "git" && field("repo", "Git repository URL", { required: true, hint: "https://…" })}
        {kind === "git" && field("branch", "Branch")}
        {kind === "upload" && (
          <div class="field">
            <label for="archive">Source archive</label>
            <input id="archive" type="file" accept=".zip,.tar.gz,.tgz" aria-invalid={!!errors.archive} aria-describedby="archive-error"
              onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
            <small>a .zip or .tar.gz of a folder with a Dockerfile, up to 500 MB</small>
            <p class="error" id="archive-error" role={errors.archive ? "alert" : undefined}>{errors.archive ?? ""}</p>
          </div>
        )}
        {field("port", "Container port", { type: "number" })}
        {kind === "git" && field("repoToken", "Private repo token", { type: "password", hint: "optional; stored encrypted, never shown again" })}
        <details open={["dockerfile", "context", "cpu", "memory", "domain", "env", "secrets"].some((k) => errors[k])}>
          <summary>Advanced</summary>
          {field("dockerfile", "Dockerfile path")}
          {field("context", "Build context")}
          {field("cpu", "CPUs", { type: "number" })}
          {field("memory", "Memory (MB)", { type: "number" })}
          {field("domain", "Custom domain")}
          {field("env", "Environment (KEY=value per line)", { multiline: true })}
          {field("secrets", "Secrets (KEY=value per line; values are never shown again)", { multiline: true })}
        </details>
        <Progress value={progress} />
        {message && <p class="error form-error" role="alert">{message}</p>}
        <button type="submit" disabled={busy}>{busy ? "Deploying…" : "Deploy"}</button>
      </form>
    </main>
  );
}

/** An upload app's Deploy: a new archive, or none to rebuild the stored one. */
function DeployUpload({ app, done, close }: { app: AppView; done: () => void; close: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [queued, setQueued] = useState<string | null>(null);
  const go = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      let q: Queued;
      if (file) {
        setProgress(0);
        q = await uploadAndDeploy(app.id, file, setProgress);
      } else {
        q = await call<Queued>("POST", `apps/${app.id}/deploy`);
      }
      setQueued(q.deploymentId);
      done();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="modal" role="dialog" aria-modal="true" aria-labelledby="deploy-title"
      onKeyDown={(e) => e.key === "Escape" && close()}>
      <form class="card" onSubmit={go}>
        <h2 id="deploy-title">Deploy {app.name}</h2>
        <div class="field">
          <label for="new-archive">New archive (optional)</label>
          <input id="new-archive" type="file" accept=".zip,.tar.gz,.tgz" autoFocus
            onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
          <small>None chosen: the stored archive is built again.</small>
        </div>
        <Progress value={progress} />
        {error && <p class="error" role="alert">{error}</p>}
        {queued && <p role="status">Deploying: <a href={`#/deployments/${queued}`}>follow its build</a>.</p>}
        <div class="actions">
          {!queued && <button type="submit" disabled={busy}>{busy ? "Deploying…" : "Deploy"}</button>}
          <button type="button" class="danger" onClick={close}>Close</button>
        </div>
      </form>
    </div>
  );
}

function Copy({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button type="button" class="small" aria-label={`Copy ${label}`}
      onClick={async () => { await navigator.clipboard?.writeText(text); setDone(true); }}>
      {done ? "Copied" : "Copy"}
    </button>
  );
}

function WebhookPanel({ hook, appId, changed }: { hook: Webhook; appId: string; changed: () => void }) {
  const rotate = async () => {
    if (!confirm("Make a new webhook secret? The current one stops working at once.")) return;
    await call<Webhook>("POST", `apps/${appId}/webhook/rotate`);
    changed();
  };
  return (
    <section class="card" aria-label="Webhook">
      <h2>Push to deploy</h2>
      <dl>
        <dt>Payload URL</dt><dd><code data-hook="url">{hook.url}</code> <Copy text={hook.url} label="payload URL" /></dd>
        <dt>Secret</dt><dd><code data-hook="secret">{hook.secret ?? "—"}</code> {hook.secret && <Copy text={hook.secret} label="secret" />}</dd>
        <dt>Content type</dt><dd><code data-hook="contentType">{hook.contentType}</code></dd>
        <dt>Events</dt><dd><code data-hook="events">{hook.events.join(", ")}</code></dd>
      </dl>
      <ol>
        <li>In GitHub, open the repository's <b>Settings → Webhooks → Add webhook</b>.</li>
        <li>Paste the payload URL and the secret; choose content type <code>application/json</code>.</li>
        <li>Select <b>Just the push event</b> and save: each push to the branch deploys.</li>
      </ol>
      <button type="button" onClick={rotate}>Rotate secret</button>
    </section>
  );
}

/** The app's settings, changed in place (`PATCH /apps/{id}`). */
function Settings({ app, saved }: { app: AppView; saved: () => void }) {
  const s = app.source;
  const initial = () => ({
    port: String(app.port), cpu: String(app.cpu), memory: String(app.memory), domain: app.domain ?? "",
    dockerfile: s.dockerfile, context: s.context,
    env: Object.entries(app.env).map(([k, v]) => `${k}=${v}`).join("\n"),
    branch: s.type === "git" ? s.branch : "", watchPaths: s.type === "git" ? s.watchPaths.join("\n") : "",
  });
  const [f, setF] = useState<Record<string, string>>(initial);
  const [removed, setRemoved] = useState<string[]>([]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const field = (id: string, label: string, extra: Partial<Parameters<typeof Field>[0]> = {}) => (
    <Field id={`set-${id}`} label={label} errors={errors} value={f[id] ?? ""} set={(v) => setF({ ...f, [id]: v })} {...extra} />
  );
  const save = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setMessage(null);
    const body: Record<string, unknown> = {
      port: Number(f.port), cpu: Number(f.cpu), memory: Number(f.memory),
      domain: f.domain.trim() || null, dockerfile: f.dockerfile.trim(), context: f.context.trim(),
      env: vars(f.env) ?? {},
    };
    if (s.type === "git") {
      body.branch = f.branch.trim();
      body.watchPaths = f.watchPaths.split("\n").map((l) => l.trim()).filter(Boolean);
      if (f.repoToken?.trim()) body.repoToken = f.repoToken.trim();
    }
    const secrets: Record<string, string | null> = { ...(vars(f.secrets ?? "") ?? {}) };
    for (const name of removed) secrets[name] = null;
    if (Object.keys(secrets).length) body.secrets = secrets;
    try {
      await call<AppView>("PATCH", `apps/${app.id}`, body);
      setF({ ...f, secrets: "", repoToken: "" });
      setRemoved([]);
      setMessage("Saved. The domain routes at once; the rest applies from the next deployment.");
      saved();
    } catch (err) {
      if (err instanceof Refused && err.detail.field) {
        setErrors({ [`set-${err.detail.field.split(".")[0]}`]: err.detail.message });
      } else {
        setMessage((err as Error).message);
      }
    }
  };
  return (
    <details class="card">
      <summary>Settings</summary>
      <form onSubmit={save} noValidate>
        {field("port", "Container port", { type: "number" })}
        {field("cpu", "CPUs", { type: "number" })}
        {field("memory", "Memory (MB)", { type: "number" })}
        {field("domain", "Custom domain", { hint: "empty: none" })}
        {s.type === "git" && field("branch", "Branch")}
        {s.type === "git" && field("watchPaths", "Watch paths (one glob per line; none: every push deploys)", { multiline: true })}
        {field("dockerfile", "Dockerfile path")}
        {field("context", "Build context")}
        {field("env", "Environment (KEY=value per line)", { multiline: true })}
        {field("secrets", "Set secrets (KEY=value per line; values are never shown again)", { multiline: true })}
        {app.secretNames.length > 0 && (
          <fieldset>
            <legend>Remove secrets</legend>
            {app.secretNames.map((name) => (
              <label key={name} class="check">
                <input type="checkbox" checked={removed.includes(name)}
                  onChange={(e) => setRemoved((e.target as HTMLInputElement).checked ? [...removed, name] : removed.filter((n) => n !== name))} />
                {name}
              </label>
            ))}
          </fieldset>
        )}
        {s.type === "git" && field("repoToken", "New repo token", { type: "password", hint: "empty: the current one is kept" })}
        {message && <p role="status" data-settings-message>{message}</p>}
        <button type="submit">Save settings</button>
      </form>
    </details>
  );
}

function AppPage({ id }: { id: string }) {
  const { data: app, error, reload } = usePoll(
    () => call<AppView>("GET", `apps/${id}`),
    (a) => (a.deployments ?? []).some((d) => IN_PROGRESS.includes(d.status)),
    id,
  );
  const [actionError, setActionError] = useState<Error | null>(null);
  const [deploying, setDeploying] = useState(false);
  const act = async (method: string, path: string) => {
    setActionError(null);
    try {
      await call(method, path);
      reload();
    } catch (e) {
      setActionError(e as Error);
    }
  };
  if (!app) return <main><Problem error={error} retry={reload} /></main>;
  const remove = async () => {
    const typed = prompt(`Delete ${app.name}? Its container stops and its URL stops answering. Type the app's name to confirm.`);
    if (typed !== app.name) return;
    await act("DELETE", `apps/${app.id}`);
    location.hash = "#/";
  };
  const s = app.source;
  return (
    <main>
      <div class="head">
        <h1>{app.name} <Badge status={app.status} /></h1>
        <div class="actions">
          <button onClick={() => (s.type === "upload" ? setDeploying(true) : act("POST", `apps/${app.id}/deploy`))}>Deploy</button>
          {s.type === "git" && <button onClick={() => act("POST", `apps/${app.id}/redeploy`)}>Redeploy</button>}
          <button class="danger" onClick={remove}>Delete</button>
        </div>
      </div>
      <Problem error={actionError ?? error} retry={reload} />
      {deploying && <DeployUpload app={app} close={() => setDeploying(false)} done={reload} />}
      <section class="card">
        <dl>
          <dt>URL</dt><dd><a href={app.url} target="_blank" rel="noreferrer" data-live-url>{app.url}</a></dd>
          {app.domainUrl && (<><dt>Domain</dt><dd><a href={app.domainUrl}>{app.domainUrl}</a></dd></>)}
          <dt>Source</dt><dd>{s.type === "git" ? `${s.repo} @ ${s.branch}` : `uploaded archive ${s.archive?.path ?? "(none yet)"}`}</dd>
          <dt>Dockerfile</dt><dd><code>{s.dockerfile}</code> in <code>{s.context}</code></dd>
          <dt>Runs</dt><dd>port {app.port}, {app.cpu} CPU, {app.memory} MB{app.readOnly ? ", read-only" : ""}</dd>
          <dt>Environment</dt><dd>{Object.keys(app.env).join(", ") || "—"}</dd>
          <dt>Secrets</dt><dd>{app.secretNames.join(", ") || "—"}</dd>
        </dl>
      </section>
      <Settings app={app} saved={reload} />
      {app.webhook && <WebhookPanel hook={app.webhook} appId={app.id} changed={reload} />}
      <section>
        <h2>Deployments</h2>
        <table>
          <thead><tr><th>Deployment</th><th>Status</th><th>Trigger</th><th>Commit</th><th>Cache</th><th>Took</th><th>Created</th><th></th></tr></thead>
          <tbody>
            {(app.deployments ?? []).map((d) => (
              <tr key={d.id} data-status={d.status}>
                <td><a href={`#/deployments/${d.id}`}>{d.id.slice(-8)}</a></td>
                <td><Badge status={d.status} /></td>
                <td>{d.trigger}</td>
                <td><code>{d.commit?.slice(0, 7) ?? "—"}</code></td>
                <td>{d.cacheHit === null ? "—" : d.cacheHit ? "hit" : "miss"}</td>
                <td>{seconds(d)}</td>
                <td>{when(d.createdAt)}</td>
                <td>{IN_PROGRESS.includes(d.status) &&
                  <button class="small" onClick={() => act("POST", `deployments/${d.id}/cancel`)}>Cancel</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </main>
  );
}

function DeploymentPage({ id }: { id: string }) {
  const [d, setD] = useState<DeploymentView | null>(null);
  const [log, setLog] = useState("");
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    let stop = false;
    let after: number | null = null;
    let text = "";
    const follow = async () => {
      try {
        const dep = await call<DeploymentView>("GET", `deployments/${id}`);
        for (;;) {
          const page: LogPage = await call<LogPage>("GET", `deployments/${id}/logs${after === null ? "" : `?after=${after}`}`);
          for (const c of page.chunks) text += c.text;
          after = page.next;
          if (!page.more) break;
        }
        if (stop) return;
        setD(dep);
        setLog(text);
        setError(null);
        if (IN_PROGRESS.includes(dep.status)) setTimeout(follow, 1000);
      } catch (e) {
        if (!stop) setError(e as Error);
      }
    };
    follow();
    return () => { stop = true; };
  }, [id]);
  if (!d) return <main><Problem error={error} /></main>;
  return (
    <main>
      <div class="head">
        <h1>Deployment <code>{d.id.slice(-8)}</code> <Badge status={d.status} /></h1>
        <div class="actions">
          <a class="button" href={`#/apps/${d.appId}`}>Back to the app</a>
          {IN_PROGRESS.includes(d.status) && (
            <button onClick={() => call("POST", `deployments/${d.id}/cancel`).catch(setError)}>Cancel</button>
          )}
        </div>
      </div>
      <Problem error={error} />
      {d.error && <p class="error" role="alert" data-deployment-error>{d.error}</p>}
      <section class="card">
        <dl>
          <dt>Trigger</dt><dd>{d.trigger}{d.rolledBackFrom ? ` (from ${d.rolledBackFrom.slice(-8)})` : ""}</dd>
          <dt>Commit</dt><dd><code>{d.commit ?? "—"}</code></dd>
          <dt>Cache</dt><dd>{d.cacheHit === null ? "—" : d.cacheHit ? "hit" : "miss"}</dd>
          <dt>Phases</dt>
          <dd>{Object.entries(d.phases).map(([name, p]) => (
            <span class="phase" key={name}>{name} {p.millis === undefined ? "…" : `${(p.millis / 1000).toFixed(1)} s`}</span>
          ))}</dd>
        </dl>
      </section>
      <h2>Build log</h2>
      <pre class="log" aria-live="polite" data-log>{log}</pre>
    </main>
  );
}

function Shell() {
  let r = useRoute();
  // A sign-in link carries the token in the fragment, which no server sees:
  // it moves to this tab's storage and leaves the address bar.
  if (r[0]?.startsWith("token=")) {
    signIn(decodeURIComponent(r[0].slice("token=".length)));
    history.replaceState(null, "", location.pathname + location.search + "#/");
    r = [];
  }
  if (!token() || r[0] === "signin") return <SignIn />;
  let page;
  if (r[0] === "new") page = <NewApp />;
  else if (r[0] === "apps" && r[1]) page = <AppPage id={r[1]} />;
  else if (r[0] === "deployments" && r[1]) page = <DeploymentPage id={r[1]} />;
  else page = <Apps />;
  return (
    <>
      <header>
        <a href="#/" class="brand">Slipway</a>
        <nav><a href="#/">Apps</a> <a href="#/new">New</a> <button class="link" onClick={signOut}>Sign out</button></nav>
      </header>
      {page}
    </>
  );
}

render(<Shell />, document.getElementById("root")!);
