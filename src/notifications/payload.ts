/**
 * The body of a notification (Standard Webhooks' recommended `{type, timestamp, data}` shape):
 * the task view's public fields. Pure: the workflow builds it, the activity only adds absolute
 * asset URLs, so every attempt sends the same event.
 */
import type { ProviderFailure, LyricsText } from '../provider/types.ts';
import type { TaskView } from '../workflows/state.ts';
import type { NotificationEvent } from './events.ts';

export interface NotifiedAsset {
  id: string;
  type: string;
  name: string;
  trackId?: string;
  sourceUrl: string;
  bytes: number;
  sha256: string;
  contentType?: string;
  durationSeconds?: number;
  width?: number;
  height?: number;
  /** Where the API serves our copy, relative to the API (`/v1/assets/<id>`). */
  url: string;
  /** The same under `PUBLIC_BASE_URL`, when the deployment sets it. */
  absoluteUrl?: string;
}

export interface NotificationPayload {
  type: NotificationEvent;
  /** When the task reached this event (the same on every attempt). */
  timestamp: string;
  data: {
    taskId: string;
    workflowId: string;
    kind: string;
    summary?: string;
    status: string;
    ready: boolean;
    submittedAt: string;
    updatedAt: string;
    assets: NotifiedAsset[];
    lyrics?: LyricsText[];
    error?: ProviderFailure;
    callbacks: number;
    polls: number;
  };
}

/** The event's body; storage paths, receipts and polls stay private to the service. */
export function notificationPayload(
  type: NotificationEvent,
  timestamp: string,
  view: TaskView,
): NotificationPayload {
  return {
    type,
    timestamp,
    data: {
      taskId: view.taskId,
      workflowId: view.workflowId,
      kind: view.kind,
      ...(view.summary ? { summary: view.summary } : {}),
      status: view.status,
      ready: view.ready,
      submittedAt: view.submittedAt,
      updatedAt: view.updatedAt,
      assets: view.assets.map((asset) => ({
        id: asset.id,
        type: asset.type,
        name: asset.name,
        ...(asset.trackId ? { trackId: asset.trackId } : {}),
        sourceUrl: asset.sourceUrl,
        bytes: asset.bytes,
        sha256: asset.sha256,
        ...(asset.contentType ? { contentType: asset.contentType } : {}),
        ...(asset.durationSeconds !== undefined ? { durationSeconds: asset.durationSeconds } : {}),
        ...(asset.width !== undefined ? { width: asset.width } : {}),
        ...(asset.height !== undefined ? { height: asset.height } : {}),
        url: `/v1/assets/${encodeURIComponent(asset.id)}`,
      })),
      ...(view.lyrics ? { lyrics: view.lyrics } : {}),
      ...(view.error ? { error: view.error } : {}),
      callbacks: view.receiptCounts.total,
      polls: view.pollCount,
    },
  };
}

/** The payload with each asset's absolute URL under `publicBaseUrl` (no trailing slash). */
export function withAbsoluteUrls(payload: NotificationPayload, publicBaseUrl: string | undefined) {
  if (!publicBaseUrl) return payload;
  return {
    ...payload,
    data: {
      ...payload.data,
      assets: payload.data.assets.map((asset) => ({ ...asset, absoluteUrl: `${publicBaseUrl}${asset.url}` })),
    },
  };
}
