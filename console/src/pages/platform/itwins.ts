/** #/itwins: the signed-in user's iTwins and a new one; #/itwins/:itwinId: its members and its iModels. */
import { json } from "../../api";
import type { Parameters } from "../../main";
import { attempt, formatDate, h, link, pagedTable } from "../../ui";
import { imodelsSection } from "./imodels";

interface ITwin {
  id: string;
  displayName: string;
  class?: string;
  subClass?: string;
  number?: string | null;
  status?: string;
  createdDateTime?: string;
  createdBy?: string;
}

interface Member {
  subject: string;
  role: string;
  createdDateTime: string;
}

const ROLES = ["Reader", "Contributor", "Owner"];

export async function renderITwins(root: HTMLElement): Promise<void> {
  const name = h("input", { placeholder: "Name of the new iTwin", required: true, "data-testid": "itwin-name" });
  const create = h("button", { type: "submit", "data-testid": "create-itwin" }, "Create iTwin");
  const status = h("div");
  const form = h("form", {}, name, create);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    create.disabled = true;
    await attempt(status, async () => {
      const itwin: ITwin = (await json("/itwins", { method: "POST", body: { displayName: name.value.trim() } })).iTwin;
      location.hash = `#/itwins/${itwin.id}`;
    });
    create.disabled = false;
  });
  root.append(
    h("h1", {}, "iTwins"),
    h("p", { class: "muted" }, "The iTwins you are a member of. An iTwin holds iModels, files and members."),
    pagedTable<ITwin>(
      "/itwins?$top=20",
      "iTwins",
      [
        { title: "Name", cell: (itwin) => h("a", { href: `#/itwins/${itwin.id}`, "data-testid": "itwin-row" }, itwin.displayName) },
        { title: "Class", cell: (itwin) => [itwin.class, itwin.subClass].filter(Boolean).join(" / ") },
        { title: "Status", cell: (itwin) => itwin.status },
        { title: "Created", cell: (itwin) => formatDate(itwin.createdDateTime) },
        { title: "Id", cell: (itwin) => h("code", {}, itwin.id) },
      ],
      "No iTwins yet: create one below.",
    ),
    h("section", {}, h("h2", {}, "New iTwin"), form, status),
  );
}

export async function renderITwin(root: HTMLElement, parameters: Parameters): Promise<void> {
  const itwinId = parameters.itwinId;
  const itwin: ITwin = (await json(`/itwins/${encodeURIComponent(itwinId)}`)).iTwin;
  root.append(
    h("p", { class: "crumbs" }, link("#/itwins", "iTwins"), " / ", itwin.displayName),
    h("h1", { "data-testid": "itwin-title" }, itwin.displayName),
    h(
      "p",
      { class: "muted" },
      [itwin.class, itwin.subClass].filter(Boolean).join(" / "),
      itwin.status ? ` · ${itwin.status}` : "",
      itwin.createdBy ? ` · created by ${itwin.createdBy}` : "",
      itwin.createdDateTime ? ` on ${formatDate(itwin.createdDateTime)}` : "",
      " · id ",
      h("code", {}, itwin.id),
    ),
    imodelsSection(itwinId),
    membersSection(itwinId),
  );
}

function membersSection(itwinId: string): HTMLElement {
  const path = `/itwins/${encodeURIComponent(itwinId)}/members`;
  const list = h("div");
  const status = h("div");
  const show = () =>
    list.replaceChildren(
      pagedTable<Member>(`${path}?$top=50`, "members", [
        { title: "Member", cell: (member) => h("span", { "data-testid": "member-row" }, member.subject) },
        { title: "Role", cell: (member) => h("span", { "data-testid": "member-role" }, member.role) },
        { title: "Since", cell: (member) => formatDate(member.createdDateTime) },
        {
          title: "",
          cell: (member) =>
            h(
              "button",
              {
                class: "secondary",
                "data-testid": "remove-member",
                onclick: async () => {
                  if (!confirm(`Remove ${member.subject} from this iTwin?`)) return;
                  if (await attempt(status, () => json(`${path}/${encodeURIComponent(member.subject)}`, { method: "DELETE" }))) show();
                },
              },
              "Remove",
            ),
        },
      ]),
    );
  show();

  const subject = h("input", { placeholder: "User name or client id", required: true, "data-testid": "member-subject" });
  const role = h("select", { "data-testid": "member-role-choice" }, ...ROLES.map((name) => h("option", { value: name }, name)));
  role.value = "Contributor";
  const add = h("button", { type: "submit", "data-testid": "add-member" }, "Add member");
  const form = h("form", {}, subject, role, add);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    add.disabled = true;
    const added = await attempt(status, async () => {
      await json(path, { method: "POST", body: { subject: subject.value.trim(), role: role.value } });
    });
    add.disabled = false;
    if (added) {
      status.append(h("p", { class: "muted", "data-testid": "member-added" }, `${subject.value.trim()} is a ${role.value} now.`));
      subject.value = "";
      show();
    }
  });
  return h(
    "section",
    {},
    h("h2", {}, "Members"),
    h(
      "p",
      { class: "muted" },
      "Readers see connections and runs; Contributors and Owners also create, change and run them; Owners manage members. Adding a member again changes their role.",
    ),
    list,
    form,
    status,
  );
}
