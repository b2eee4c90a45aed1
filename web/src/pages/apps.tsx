import { call } from "../api";
import type { AppView } from "../types";
import { IN_PROGRESS } from "../types";
import { Badge, Problem, usePoll, when } from "../ui";

export function Apps() {
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
