/** Sign-in: the admin token, sent once, for a session cookie this script cannot read. */
import { ApiError, signIn } from "./api.js";
import { field, fill, h } from "./dom.js";

export function render(main, message, signedIn) {
  const token = h("input", {
    type: "password",
    name: "token",
    required: true,
    autocomplete: "current-password",
    spellcheck: "false",
  });
  const actor = h("input", {
    type: "text",
    name: "actor",
    autocomplete: "username",
    pattern: "[A-Za-z0-9._@+\\-]{1,64}",
    maxlength: "64",
  });
  const problem = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { "aria-labelledby": "signin-title" },
    field("Admin token", token, { hint: "EVCS_ADMIN_TOKEN. It is sent once and not kept by this page." }),
    field("Your name", actor, {
      hint: "Optional. The audit log names what you do as console:<name>.",
    }),
    problem,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    submit.disabled = true;
    try {
      const session = await signIn(token.value.trim(), actor.value.trim());
      token.value = "";
      signedIn(session);
    } catch (error) {
      problem.textContent =
        error instanceof ApiError && error.status === 401
          ? "That is not the admin token."
          : `Could not sign in: ${error.message}`;
      token.focus();
    } finally {
      submit.disabled = false;
    }
  });
  fill(
    main,
    h(
      "section",
      { class: "panel signin" },
      h("h1", { id: "signin-title", tabindex: "-1" }, "Sign in to the operator console"),
      message ? h("p", { role: "status" }, message) : null,
      form,
    ),
  );
  token.focus();
}
