import { useState } from "preact/hooks";
import { call, Refused, signIn } from "../api";

export function SignIn() {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    signIn(value.trim());
    try {
      await call("GET", "apps");
      location.hash = "#/";
    } catch (err) {
      setError(err instanceof Refused ? "That token is not valid." : (err as Error).message);
    }
  };
  return (
    <main class="narrow">
      <h1>Sign in to Slipway</h1>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input id="token" type="password" autocomplete="off" value={value} required
          onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit">Sign in</button>
      </form>
      <p class="hint">An operator makes one with <code>slipway-admin mint-token &lt;you&gt;</code>. It stays in this tab only.</p>
    </main>
  );
}
