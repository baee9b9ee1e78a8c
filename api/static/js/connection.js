// Is the API reachable? Driven by the notification stream (open whenever someone is signed in)
// and by requests. Listeners hear every change; `recovered` marks the way back from offline.

let streamDown = false;
let requestDown = false;
let retryAt = null;
const listeners = new Set();

export const isOnline = () => !streamDown && !requestDown;
export const nextRetryAt = () => retryAt;

export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function update(change) {
  const was = isOnline();
  change();
  const online = isOnline();
  for (const listener of listeners) listener({ online, recovered: online && !was, retryAt });
}

export const streamUp = () =>
  update(() => {
    streamDown = false;
    requestDown = false;
    retryAt = null;
  });

export const streamLost = (at = null) =>
  update(() => {
    streamDown = true;
    retryAt = at;
  });

export const requestFailed = () =>
  update(() => {
    requestDown = true;
  });

export function requestSucceeded() {
  if (requestDown) update(() => (requestDown = false));
}

export function reset() {
  streamDown = false;
  requestDown = false;
  retryAt = null;
}
