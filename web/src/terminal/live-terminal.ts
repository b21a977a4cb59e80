/**
 * A terminal on the page wired to the session's terminal WebSocket. The candidate's
 * types and resizes; an observer's is read-only and takes the candidate's size.
 * On every `hello` (first connect and each reconnect) the screen is reset, because the
 * server then sends the current screen in full.
 */
import { TerminalConnection, type ConnectionStatus, type ControlMessage } from './connection.js';
import { createTerminalView, MIN_OBSERVER_FONT_SIZE, TERMINAL_FONT_SIZE, type TerminalView } from './terminal-view.js';

export interface LiveTerminalOptions {
  sessionId: string;
  role: 'candidate' | 'observer';
  label: string;
  issueTicket(): Promise<string>;
  onStatus(status: ConnectionStatus): void;
  onControl?(message: ControlMessage): void;
}

export interface LiveTerminal {
  view: TerminalView;
  connection: TerminalConnection;
  focus(): void;
  dispose(): void;
}

export function startLiveTerminal(container: HTMLElement, options: LiveTerminalOptions): LiveTerminal {
  const readOnly = options.role === 'observer';
  const view = createTerminalView(container, { readOnly, label: options.label });
  const { term } = view;
  let lastSize = { cols: 0, rows: 0 };

  // An observer shows the candidate's columns and rows; when their window is larger than
  // the observer's box, the font gets smaller (down to a readable minimum) to fit it.
  const fitFontToBox = () => {
    const screen = container.querySelector<HTMLElement>('.xterm-screen');
    if (!screen || container.clientWidth === 0) return;
    let size = TERMINAL_FONT_SIZE;
    term.options.fontSize = size;
    while (size > MIN_OBSERVER_FONT_SIZE && (screen.offsetWidth > container.clientWidth || screen.offsetHeight > container.clientHeight)) {
      size -= 0.5;
      term.options.fontSize = size;
    }
  };
  const follow = (cols: number, rows: number) => {
    term.resize(cols, rows);
    fitFontToBox();
  };

  const connection = new TerminalConnection({
    sessionId: options.sessionId,
    issueTicket: options.issueTicket,
    onHello: (hello) => {
      term.reset();
      if (readOnly) {
        follow(hello.cols, hello.rows);
      } else {
        lastSize = { cols: 0, rows: 0 };
        sendSize();
      }
    },
    onOutput: (data, processed) => term.write(data, processed),
    onControl: (message) => {
      if (message.type === 'resize' && readOnly) follow(message.cols, message.rows);
      options.onControl?.(message);
    },
    onStatus: options.onStatus,
  });

  const sendSize = () => {
    const size = view.fit();
    if (!size || !connection.connected) return;
    if (size.cols === lastSize.cols && size.rows === lastSize.rows) return;
    lastSize = size;
    connection.resize(size.cols, size.rows);
  };

  const disposers: (() => void)[] = [];
  if (!readOnly) {
    const input = term.onData((data) => connection.send(data));
    disposers.push(() => input.dispose());
    view.fit();
  }
  let frame = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(readOnly ? fitFontToBox : sendSize);
  });
  observer.observe(container);
  disposers.push(() => {
    cancelAnimationFrame(frame);
    observer.disconnect();
  });
  connection.start();

  return {
    view,
    connection,
    focus: () => term.focus(),
    dispose: () => {
      for (const d of disposers) d();
      connection.stop();
      view.dispose();
    },
  };
}
