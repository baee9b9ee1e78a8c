// EventSource with reconnection we can see and steer.
//
// When a stream breaks, the browser reconnects by itself and sends Last-Event-ID, so the server
// resumes exactly where we left off; we let it try that once. If that fails too (API down, or an
// HTTP error, which makes EventSource give up) we close it and reconnect ourselves with
// exponential backoff. A new EventSource cannot send Last-Event-ID, so `beforeReconnect` first
// refetches the state over REST (and may decide the stream is no longer needed); the last id also
// travels as a `lastEventId` query parameter for servers that read it.

const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;
const NATIVE_RETRIES = 1;

export class LiveStream {
  #url;
  #options;
  #source = null;
  #timer = null;
  #failures = 0;
  #stopped = true;
  lastEventId = '';
  retryAt = null;

  /**
   * @param {() => string} url built at each connect (the token may change)
   * @param {{events: Record<string, (data: any) => void>, onUp?: () => void,
   *          onDown?: (retryAt: number | null) => void,
   *          beforeReconnect?: () => Promise<boolean | void>}} options
   */
  constructor(url, options) {
    this.#url = url;
    this.#options = options;
  }

  start() {
    this.#stopped = false;
    this.#connect();
  }

  stop() {
    this.#stopped = true;
    this.#close();
  }

  /** Close now and come back after the backoff delay (the caller saw something stale). */
  retryLater() {
    if (this.#stopped) return;
    this.#close();
    this.#failures += 1;
    this.#schedule();
  }

  /** Skip the wait of a scheduled reconnect. */
  retryNow() {
    if (this.#stopped || this.#timer === null) return;
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#reconnect();
  }

  /** Stop listening without giving up the stream (used after a final event). */
  pause() {
    this.#close();
  }

  #close() {
    clearTimeout(this.#timer);
    this.#timer = null;
    this.retryAt = null;
    this.#source?.close();
    this.#source = null;
  }

  #connect() {
    const url = new URL(this.#url(), location.href);
    if (this.lastEventId) url.searchParams.set('lastEventId', this.lastEventId);
    const source = new EventSource(url);
    this.#source = source;
    source.onopen = () => {
      if (source !== this.#source) return;
      this.#failures = 0;
      this.#options.onUp?.();
    };
    source.onerror = () => this.#onError(source);
    for (const [name, handler] of Object.entries(this.#options.events)) {
      source.addEventListener(name, (event) => {
        if (source !== this.#source) return;
        if (event.lastEventId) this.lastEventId = event.lastEventId;
        handler(JSON.parse(event.data));
      });
    }
  }

  #onError(source) {
    if (source !== this.#source || this.#stopped) return;
    this.#failures += 1;
    if (source.readyState === EventSource.CONNECTING && this.#failures <= NATIVE_RETRIES) {
      this.#options.onDown?.(null);
      return;
    }
    this.#close();
    this.#schedule();
  }

  #schedule() {
    const exponential = BASE_DELAY_MS * 2 ** Math.max(0, this.#failures - 1);
    const delay = Math.min(MAX_DELAY_MS, exponential) * (0.8 + Math.random() * 0.4);
    this.retryAt = Date.now() + delay;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#reconnect();
    }, delay);
    this.#options.onDown?.(this.retryAt);
  }

  async #reconnect() {
    this.retryAt = null;
    try {
      const wanted = await this.#options.beforeReconnect?.();
      if (wanted === false) {
        this.stop();
        return;
      }
    } catch {
      if (this.#stopped || this.#timer !== null || this.#source) return;
      this.#failures += 1;
      this.#schedule();
      return;
    }
    if (!this.#stopped && !this.#source && this.#timer === null) this.#connect();
  }
}
