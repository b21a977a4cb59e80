/**
 * A session's server-sent events (`GET /api/sessions/:id/events`), read with fetch so
 * the staff token can be sent as a header when there is no cookie. Reconnects with
 * `Last-Event-ID` after a drop, so no event is missed or repeated.
 */
import { authHeaders, STAFF } from './http.js';

export interface SessionEvent {
  id: number;
  type: string;
  data: unknown;
}

export interface EventStreamHandlers {
  onEvent(event: SessionEvent): void;
  /** `true` while connected; `false` while waiting to reconnect. */
  onConnection?(connected: boolean): void;
  /** The stream was refused for good (signed out, no such session). */
  onFatal?(status: number): void;
}

export function followSessionEvents(sessionId: string, handlers: EventStreamHandlers): () => void {
  const controller = new AbortController();
  let lastId = 0;
  let stopped = false;

  const dispatch = (block: string) => {
    let id: number | null = null;
    let type = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = Number(value);
      else if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) return;
    if (id !== null && Number.isFinite(id)) lastId = id;
    let parsed: unknown = data.join('\n');
    try {
      parsed = JSON.parse(parsed as string);
    } catch {
      // keep the text
    }
    handlers.onEvent({ id: id ?? lastId, type, data: parsed });
  };

  const run = async () => {
    let delay = 1000;
    while (!stopped) {
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream', ...authHeaders(STAFF) };
        if (lastId > 0) headers['last-event-id'] = String(lastId);
        const response = await fetch(`/api/sessions/${encodeURIComponent(sessionId)}/events`, {
          headers,
          credentials: 'same-origin',
          signal: controller.signal,
          cache: 'no-store',
        });
        if (response.status === 401 || response.status === 403 || response.status === 404) {
          handlers.onFatal?.(response.status);
          return;
        }
        if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
        handlers.onConnection?.(true);
        delay = 1000;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, '\n');
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            dispatch(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch {
        if (stopped) return;
      }
      if (stopped) return;
      handlers.onConnection?.(false);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  };
  void run();

  return () => {
    stopped = true;
    controller.abort();
  };
}
