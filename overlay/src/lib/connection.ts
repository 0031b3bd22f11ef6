import type { ServerMessage } from '../../../src/protocol/index.ts';

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface Connection {
  close(): void;
}

const MIN_DELAY_MS = 250;
const MAX_DELAY_MS = 2000;

/** A websocket that reconnects by itself (the daemon restarts; OBS keeps the page). */
export function connect(
  path: string,
  token: string,
  onMessage: (message: ServerMessage) => void,
  onState: (state: ConnectionState) => void = () => {},
): Connection {
  let delay = MIN_DELAY_MS;
  let closed = false;
  let ws: WebSocket | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = () => {
    onState('connecting');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${scheme}://${location.host}${path}?token=${encodeURIComponent(token)}`);
    ws.onopen = () => {
      delay = MIN_DELAY_MS;
      onState('open');
    };
    ws.onmessage = (e) => onMessage(JSON.parse(String(e.data)) as ServerMessage);
    ws.onclose = () => {
      onState('closed');
      if (closed) return;
      timer = setTimeout(open, delay);
      delay = Math.min(MAX_DELAY_MS, delay * 2);
    };
  };
  open();
  return {
    close: () => {
      closed = true;
      clearTimeout(timer);
      ws?.close();
    },
  };
}
