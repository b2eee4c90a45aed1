import { useState } from "preact/hooks";
import { call, Refused } from "../api";
import type { AppView, Queued, Webhook } from "../types";
import { IN_PROGRESS } from "../types";
import { Badge, Copy, Field, Problem, Progress, seconds, usePoll, vars, when } from "../ui";
import { uploadAndDeploy } from "./new_app";

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

export function AppPage({ id }: { id: string }) {
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
