import { useState } from "preact/hooks";
import { archiveFormat, call, putArchive, Refused } from "../api";
import type { AppView, Queued, UploadTicket } from "../types";
import { Field, Progress, vars } from "../ui";

/** Uploads `file` as the app's next archive and deploys it. */
export async function uploadAndDeploy(appId: string, file: File, progress: (p: number) => void): Promise<Queued> {
  const checked = archiveFormat(file);
  if ("error" in checked) throw new Error(checked.error);
  const ticket = await call<UploadTicket>("POST", `apps/${appId}/source`, { format: checked.format, size: file.size });
  await putArchive(ticket, file, progress);
  return call<Queued>("POST", `apps/${appId}/deploy`);
}

export function NewApp() {
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
