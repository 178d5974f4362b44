/**
 * The console's shell: sign-in, navigation, and a hash router that renders one page at a time.
 *
 * A page is a module in pages/ registered in `routes` below: a pattern ("#/itwins/:itwinId") and a
 * function that fills the page's element from the URL's parameters. Pages use only api.ts (the public REST
 * APIs) and ui.ts.
 */
import "./style.css";
import { completeSignIn, currentUser, refresh, signIn, signOut } from "./auth";
import { errorBox, h } from "./ui";
import { routes } from "./routes";

export type Parameters = Record<string, string>;
export type Render = (root: HTMLElement, parameters: Parameters, query: URLSearchParams) => void | Promise<void>;
export interface Route {
  pattern: string; // "/itwins/:itwinId"
  title: string;
  render: Render;
}

const app = document.getElementById("app")!;
const main = h("main");
let stopCurrent: (() => void) | null = null;

/** Pages that poll (run states) register a stop function, called when the user leaves the page. */
export function onLeave(stop: () => void): void {
  const previous = stopCurrent;
  stopCurrent = () => {
    previous?.();
    stop();
  };
}

function match(pattern: string, path: string): Parameters | null {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return null;
  const parameters: Parameters = {};
  for (let index = 0; index < want.length; index++) {
    if (want[index].startsWith(":")) parameters[want[index].slice(1)] = decodeURIComponent(got[index]);
    else if (want[index] !== got[index]) return null;
  }
  return parameters;
}

async function render(): Promise<void> {
  stopCurrent?.();
  stopCurrent = null;
  const [path, search] = (location.hash.slice(1) || "/itwins").split("?");
  main.replaceChildren();
  if (!(await refresh())) {
    main.append(h("p", {}, "You are signed out."), h("button", { onclick: () => void signIn() }, "Sign in"));
    return;
  }
  for (const route of routes) {
    const parameters = match(route.pattern, path);
    if (parameters) {
      document.title = `${route.title} · twinbridge`;
      try {
        await route.render(main, parameters, new URLSearchParams(search ?? ""));
      } catch (error) {
        main.append(errorBox(error));
      }
      return;
    }
  }
  main.append(h("h1", {}, "Not found"), h("p", {}, `No page at ${path}.`));
}

async function start(): Promise<void> {
  try {
    await completeSignIn();
  } catch (error) {
    app.append(errorBox(error));
  }
  const user = currentUser();
  const header = h(
    "header",
    {},
    h("a", { href: "#/itwins", class: "brand" }, "twinbridge"),
    h("nav", {}, h("a", { href: "#/itwins" }, "iTwins")),
    user
      ? h("span", { class: "user" }, user, " ", h("button", { class: "secondary", onclick: async () => { await signOut(); location.reload(); } }, "Sign out"))
      : h("button", { onclick: () => void signIn() }, "Sign in"),
  );
  app.append(header, main);
  window.addEventListener("hashchange", () => void render());
  await render();
}

void start();
