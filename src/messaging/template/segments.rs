//! How many SMS parts a message takes, and in which encoding.

use serde::Serialize;

// ---------------------------------------------------------------- SMS segments

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

/// How an SMS is sent: its encoding, its length in that encoding's units
/// (GSM-7 septets, extension characters counting 2; UTF-16 units for UCS-2)
/// and its number of segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SmsSegments {
    pub encoding: SmsEncoding,
    pub units: usize,
    pub segments: usize,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// Counts the segments of an SMS: GSM-7 (160 in one, 153 per part) unless
/// one character is outside it, then UCS-2 (70 in one, 67 per part).
pub fn sms_segments(text: &str) -> SmsSegments {
    let mut septets = 0;
    let mut gsm = true;
    for c in text.chars() {
        if GSM7_EXTENSION.contains(c) {
            septets += 2;
        } else if GSM7_BASIC.contains(c) {
            septets += 1;
        } else {
            gsm = false;
            break;
        }
    }
    let (encoding, units, single, part) = if gsm {
        (SmsEncoding::Gsm7, septets, 160, 153)
    } else {
        (SmsEncoding::Ucs2, text.encode_utf16().count(), 70, 67)
    };
    let segments = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    SmsSegments {
        encoding,
        units,
        segments,
    }
}
