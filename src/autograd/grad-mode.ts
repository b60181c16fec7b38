// Whether ops record the backward graph. noGrad() turns recording off for a synchronous scope.

let enabled = true;

/** Whether ops record the graph now (false inside noGrad) (torch.is_grad_enabled). */
export function isGradEnabled(): boolean {
  return enabled;
}

function withGradMode<T>(mode: boolean, fn: () => T): T {
  const prev = enabled;
  enabled = mode;
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error('noGrad/enableGrad take a synchronous function (grad mode is not tracked across await)');
    return r;
  } finally {
    enabled = prev;
  }
}

/** Run fn without recording a graph (inference, optimiser updates). */
export const noGrad = <T>(fn: () => T): T => withGradMode(false, fn);
/** Run fn with graph recording on, even inside noGrad (higher-order gradients). */
export const enableGrad = <T>(fn: () => T): T => withGradMode(true, fn);
