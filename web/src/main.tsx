import { render } from "preact";
import { signIn, signOut, token } from "./api";
import { AppPage } from "./pages/app";
import { Apps } from "./pages/apps";
import { DeploymentPage } from "./pages/deployment";
import { NewApp } from "./pages/new_app";
import { SignIn } from "./pages/signin";
import { useRoute } from "./ui";

function Shell() {
  let r = useRoute();
  // A sign-in link carries the token in the fragment, which no server sees:
  // it moves to this tab's storage and leaves the address bar.
  if (r[0]?.startsWith("token=")) {
    signIn(decodeURIComponent(r[0].slice("token=".length)));
    history.replaceState(null, "", location.pathname + location.search + "#/");
    r = [];
  }
  if (!token() || r[0] === "signin") return <SignIn />;
  let page;
  if (r[0] === "new") page = <NewApp />;
  else if (r[0] === "apps" && r[1]) page = <AppPage id={r[1]} />;
  else if (r[0] === "deployments" && r[1]) page = <DeploymentPage id={r[1]} />;
  else page = <Apps />;
  return (
    <>
      <header>
        <a href="#/" class="brand">Slipway</a>
        <nav><a href="#/">Apps</a> <a href="#/new">New</a> <button class="link" onClick={signOut}>Sign out</button></nav>
      </header>
      {page}
    </>
  );
}

render(<Shell />, document.getElementById("root")!);
