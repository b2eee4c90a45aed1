// The API's bodies, as openapi.json describes them (core::api in Rust).

export type DeploymentStatus =
  | "queued" | "building" | "deploying" | "running" | "failed" | "cancelled" | "superseded";
export type AppStatus = DeploymentStatus | "new" | "stopped" | "deleted";

export interface ErrorDetail { code: string; message: string; field?: string }
export interface Webhook { url: string; contentType: string; events: string[]; secret?: string }
export interface Archive { path: string; size: number; uploadedAt: string }
export interface Phase { startedAt: string; finishedAt?: string; millis?: number }

export interface DeploymentView {
  id: string; appId: string; status: DeploymentStatus; trigger: string;
  commit: string | null; pushedCommit: string | null; archive: Archive | null;
  cacheHit: boolean | null; error: string | null; createdAt: string; updatedAt: string;
  cancelRequested: boolean; attempt: number; upstream: string | null;
  phases: Record<string, Phase>; rolledBackFrom: string | null;
  failover: { fromRunnerId: string; ofDeploymentId: string } | null;
}

export type SourceView =
  | { type: "git"; repo: string; branch: string; dockerfile: string; context: string; watchPaths: string[]; hasRepoToken: boolean }
  | { type: "upload"; dockerfile: string; context: string; archive: Archive | null; pendingUpload: unknown };

export interface AppView {
  id: string; name: string; source: SourceView; port: number; cpu: number; memory: number;
  hostname: string; domain: string | null; domainUrl: string | null; readOnly: boolean;
  env: Record<string, string>; secretNames: string[]; status: AppStatus; url: string;
  webhook: Webhook | null; latestDeploymentId: string | null; liveDeploymentId: string | null;
  createdAt: string; updatedAt: string; deployments?: DeploymentView[];
}

export interface Queued { appId: string; deploymentId: string; status: DeploymentStatus; url: string; webhook: Webhook | null }
export interface LogPage { deploymentId: string; status: DeploymentStatus; chunks: { seq: number; text: string }[]; next: number | null; more: boolean; done: boolean }

export const IN_PROGRESS: string[] = ["queued", "building", "deploying"];
export interface UploadTicket { uploadUrl: string; method: string; headers: Record<string, string>; expiresAt: string; maxBytes: number; sourceArchivePath: string }
