// Fixtures the desktop test writes itself: a one-page PDF with a real text layer (standard
// Helvetica, so no font file is needed) and a file that only claims to be a PDF.
import { writeFileSync } from 'node:fs';

/** Escape text for a PDF string literal. */
function pdfString(s) {
  return '(' + s.replace(/\\/g, '\\\\').replace(/\(/g, '\\(').replace(/\)/g, '\\)') + ')';
}

/** A valid single-page PDF (US Letter) with `lines` of text; offsets in the xref are exact. */
export function textPdf(lines) {
  const content = [
    'BT', '/F1 12 Tf', '14 TL', '72 720 Td',
    ...lines.map((l) => `${pdfString(l)} '`),
    'ET',
  ].join('\n');
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`,
  ];
  let out = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

export const NDA_LINES = [
  'MUTUAL NON-DISCLOSURE AGREEMENT',
  '',
  'This Agreement is made between Harbor Analytics Ltd. and Quill & Stone LLP.',
  '',
  '1. Confidential Information',
  'Confidential Information means all non-public business, technical and legal information',
  'disclosed by one party to the other, whether in writing, orally or by inspection.',
  '',
  '2. Obligations',
  'The receiving party shall not reverse engineer, decompile or disassemble any software',
  'or prototype disclosed under this Agreement.',
  '',
  '3. Term and Termination',
  'Either party may terminate this Agreement upon thirty (30) days prior written notice',
  'to the other party. The obligations of confidentiality survive for five (5) years.',
];

export function writeFixtures(dir) {
  const good = `${dir}/harbor-nda.pdf`;
  writeFileSync(good, textPdf(NDA_LINES));
  const broken = `${dir}/not-really.pdf`;
  writeFileSync(broken, 'This is a plain text file pretending to be a PDF.\n');
  // A gold set a paralegal got wrong: a misspelt column, a duplicate id, a page 0.
  const badSet = `${dir}/bad-gold-set.csv`;
  writeFileSync(
    badSet,
    [
      'id,questoin,sources',
      'q1,How much notice ends the NDA?,harbor-nda.pdf | p. 1',
      'q1,Who may disclose?,harbor-nda.pdf | p. 0',
      '',
    ].join('\n'),
  );
  return { good, broken, badSet };
}
