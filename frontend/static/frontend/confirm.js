// An in-page confirmation (role="alertdialog" with a question, a yes and a no button), as the
// jobs pages ask before a delete: window.confirm() is modal, unstyled and skipped by some browsers.

/** ask(question, yesLabel) -> Promise<boolean>; the box's yes/no buttons answer it. */
export function confirmer(box) {
  const question = box.querySelector("[data-question]");
  const yes = box.querySelector("[data-yes]");
  const no = box.querySelector("[data-no]");
  let settle = null;
  const close = (answer) => {
    box.hidden = true;
    settle?.(answer);
    settle = null;
  };
  yes.addEventListener("click", () => close(true));
  no.addEventListener("click", () => close(false));
  return (text, yesLabel) => {
    settle?.(false);  // a second question replaces the first
    question.textContent = text;
    yes.textContent = yesLabel;
    box.hidden = false;
    no.focus();
    return new Promise((resolve) => { settle = resolve; });
  };
}
