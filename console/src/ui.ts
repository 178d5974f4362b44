/** Small DOM helpers shared by the pages: elements, tables with paging, errors, progress. */
import { ApiError, page } from "./api";

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | EventListener | undefined | null>;

/** h("button", {onclick: ...}, "Create"): an element with attributes (on* are listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** Shows what went wrong, with the server's message when the API answered one. */
export function errorBox(error: unknown): HTMLElement {
  const text = error instanceof ApiError ? error.text : error instanceof Error ? error.message : String(error);
  return h("pre", { class: "error", role: "alert" }, text);
}

/** Runs `action`, showing its error in `where` (cleared first) instead of throwing. */
export async function attempt(where: HTMLElement, action: () => Promise<void>): Promise<boolean> {
  where.replaceChildren();
  try {
    await action();
    return true;
  } catch (error) {
    where.append(errorBox(error));
    return false;
  }
}

export interface Column<T> {
  title: string;
  cell: (item: T) => Child | Child[];
}

/** A table of a paged list: its first page, and a "Next page" button that follows `_links.next`. */
export function pagedTable<T>(path: string, key: string, columns: Column<T>[], empty = "None yet."): HTMLElement {
  const container = h("div", { class: "paged" });
  const body = h("tbody");
  const status = h("div");
  const more = h("button", { class: "secondary", hidden: true }, "Next page");
  let next: string | null = path;
  const load = async () => {
    if (!next) return;
    const current = next;
    more.hidden = true;
    await attempt(status, async () => {
      const result = await page<T>(current, key);
      for (const item of result.items) {
        body.append(h("tr", {}, ...columns.map((column) => h("td", {}, column.cell(item)))));
      }
      next = result.next;
      more.hidden = !next;
      if (!body.children.length) status.append(h("p", { class: "muted" }, empty));
    });
  };
  more.addEventListener("click", load);
  container.append(
    h("table", {}, h("thead", {}, h("tr", {}, ...columns.map((column) => h("th", {}, column.title)))), body),
    status,
    more,
  );
  void load();
  return container;
}

/** A link inside the console ("#/itwins/…"). */
export function link(hash: string, text: Child): HTMLAnchorElement {
  return h("a", { href: hash }, text);
}

/** A progress line that a long operation updates ("Uploading 40%"). */
export function progress(): { element: HTMLElement; set(text: string, fraction?: number): void } {
  const bar = h("progress", { max: 1 });
  const label = h("span");
  const element = h("div", { class: "progress", hidden: true }, bar, label);
  return {
    element,
    set(text: string, fraction?: number) {
      element.hidden = false;
      label.textContent = ` ${text}`;
      if (fraction === undefined) bar.removeAttribute("value");
      else bar.value = fraction;
    },
  };
}

export function formatDate(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleString() : "";
}
