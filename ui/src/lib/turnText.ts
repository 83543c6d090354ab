import type { TFunction } from "i18next";
import type { SessionTurn } from "../bindings";

/** Plain text of one turn, with its citations listed, for the clipboard. */
export function turnToText(turn: SessionTurn, t: TFunction): string {
  const a = turn.answer;
  const lines = [`${t("chat.questionLabel")}: ${turn.question}`, "", a.answer.trim()];
  if (a.citations.length > 0) {
    lines.push("", `${t("answer.citations")}:`);
    for (const c of a.citations) {
      const where = [c.doc, c.page !== null ? t("answer.pageShort", { page: c.page }) : null, c.heading || null]
        .filter(Boolean)
        .join(", ");
      const status = c.verified ? t("citation.verified") : t("citation.notVerified");
      lines.push(`[${c.id}] ${where} — “${c.quote}” (${status})`);
    }
  }
  if (a.unsupported_claims.length > 0) {
    lines.push("", `${t("answer.unsupported")}:`);
    for (const claim of a.unsupported_claims) lines.push(`- ${claim}`);
  }
  return lines.join("\n");
}
