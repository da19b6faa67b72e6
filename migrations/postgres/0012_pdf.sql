-- Invoice PDFs: the paper a company prints on (Settings › Invoice Settings).
-- Company name, address, phone, email and logo come from 0001 and 0002.
ALTER TABLE companies ADD COLUMN paper_size TEXT NOT NULL DEFAULT 'letter'
    CHECK (paper_size IN ('letter', 'a4'));
