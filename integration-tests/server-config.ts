import { inject } from "vitest";

/**
 * The ready config of a provider's test server. A test file for a provider whose server was
 * not started fails here with the reason, rather than being skipped.
 */
export function serverConfig(provider: string): Record<string, unknown> {
  const config = inject("servers")[provider];
  if (!config) {
    throw new Error(
      `no ${provider} test server is running: the harness starts the providers in OMNISECRET_TEST_SERVERS (or all); include "${provider}"`,
    );
  }
  return structuredClone(config);
}
