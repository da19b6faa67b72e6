-- Invoice PDFs: paper size per company (filled in by the PDF work).
SELECT 1;
