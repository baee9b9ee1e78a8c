// This user's notification stream (`/api/notifications`): one per tab, open while signed in.
// Its state is the app's view of the connection: when it drops, the API is gone.

import { api, streamUrl } from './api.js';
import * as connection from './connection.js';
import { LiveStream } from './sse.js';

export function openNotifications(onNotification) {
  const stream = new LiveStream(() => streamUrl('/api/notifications'), {
    events: { notification: onNotification },
    onUp: connection.streamUp,
    onDown: connection.streamLost,
    // A new stream resumes from what no tab has been sent yet; just wait for the API to answer.
    beforeReconnect: api.reachable,
  });
  stream.start();
  return stream;
}
