/** Waiting in tests for what another process or a timer does, with a deadline that names the state. */

/** Polls `check` every 100 ms until it holds; past `timeoutMs` fails with `state()` in the message. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, state: () => unknown = () => ''): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting; ${JSON.stringify(state())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs `check` (expectations) every 100 ms until it passes; past `timeoutMs` its last failure is thrown. */
export async function eventually(check: () => void, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
