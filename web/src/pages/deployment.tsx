import { useEffect, useState } from "preact/hooks";
import { call } from "../api";
import type { DeploymentView, LogPage } from "../types";
import { IN_PROGRESS } from "../types";
import { Badge, Problem } from "../ui";

export function DeploymentPage({ id }: { id: string }) {
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
          <dt>Trigger</dt><dd>{d.trigger}{d.rolledBackFrom ? ` (from ${d.rolledBackFrom.slice(-8)})` : ""}{d.failover ? ` (moved off build host ${d.failover.fromRunnerId}; runs deployment ${d.failover.ofDeploymentId.slice(-8)}'s image)` : ""}</dd>
          <dt>Commit</dt><dd><code>{d.commit ?? "—"}</code></dd>
          <dt>Cache</dt><dd>{d.cacheHit === null ? "—" : d.cacheHit ? "hit" : "miss"}</dd>
          <dt>Phases</dt>
          <dd>{Object.entries(d.phases).map(([name, p]) => (
            <span class="phase" key={name}>{name} {p.millis === undefined ? "…" : `${(p.millis / 1000).toFixed(1)} s`}</span>
          ))}</dd>
        </dl>
      </section>
      <h2>Deploy log</h2>
      <pre class="log" aria-live="polite" data-log>{log}</pre>
    </main>
  );
}
