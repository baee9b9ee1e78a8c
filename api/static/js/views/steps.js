// The steps of a run, from its progress snapshot: started, retrying (attempt and error), done.

import { h, icon, spinner } from '../dom.js';
import { formatClock, formatDuration, stepLabel } from '../format.js';

const MARKERS = {
  pending: () => h('span.step-dot'),
  running: spinner,
  retrying: spinner,
  completed: () => icon('check'),
  failed: () => icon('x'),
  cancelled: () => icon('minus'),
};

function describe(step) {
  switch (step.status) {
    case 'pending':
      return 'Waiting';
    case 'running':
      return `Running${step.attempt > 1 ? ` · attempt ${step.attempt}` : ''} · started ${formatClock(step.startedAt)}`;
    case 'retrying':
      // `attempt` is the one coming up; `lastError` is why the previous one failed.
      return `Retrying · attempt ${step.attempt - 1} failed, attempt ${step.attempt} is next`;
    case 'completed':
      return `Done${step.startedAt && step.finishedAt ? ` in ${formatDuration(step.startedAt, step.finishedAt)}` : ''}${step.attempt > 1 ? ` · after ${step.attempt} attempts` : ''}`;
    case 'failed':
      return `Failed${step.attempt > 1 ? ` after ${step.attempt} attempts` : ''}`;
    case 'cancelled':
      return 'Cancelled';
    default:
      return step.status;
  }
}

export function stepList(steps) {
  return h(
    'ol.steps',
    {},
    steps.map((step) =>
      h(
        'li.step',
        { class: `step--${step.status}`, 'data-step': step.name, 'data-status': step.status },
        h(
          'span.step-marker',
          { 'aria-hidden': 'true' },
          (MARKERS[step.status] ?? MARKERS.pending)(),
        ),
        h(
          'div.step-body',
          {},
          h(
            'p.step-name',
            {},
            stepLabel(step.name),
            h('span.visually-hidden', {}, `: ${step.status}`),
          ),
          h('p.step-meta', {}, describe(step)),
          step.lastError &&
            ['retrying', 'failed'].includes(step.status) && [
              h('p.step-error.error-sentence', {}, step.lastError),
              technicalDetails(step.lastErrorDetail),
            ],
        ),
      ),
    ),
  );
}

/** The driver's text behind an error sentence, one click away. */
export function technicalDetails(detail) {
  if (!detail) return null;
  return h(
    'details.error-detail',
    {},
    h('summary', {}, 'Technical details'),
    h('pre.error-text', {}, detail),
  );
}
