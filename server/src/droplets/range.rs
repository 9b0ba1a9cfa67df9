//! The `Range` request header, as file servers read it: one byte range answered, anything else
//! (another unit, several ranges, bad syntax) ignored, as RFC 9110 allows.

#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// Not a single byte range we answer with 206 (another unit, several ranges, bad syntax):
    /// ignored, as RFC 9110 allows, and the whole blob is sent.
    Ignored,
    Unsatisfiable,
    Bytes {
        first: u64,
        last: u64,
    },
}

pub fn parse_range(header: &str, size: u64) -> RangeRequest {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeRequest::Ignored;
    };
    if spec.contains(',') {
        return RangeRequest::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignored;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    if first.is_empty() {
        // bytes=-N: the last N bytes.
        return match parse(last) {
            None => RangeRequest::Ignored,
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if size == 0 => RangeRequest::Unsatisfiable,
            Some(suffix) => {
                RangeRequest::Bytes { first: size.saturating_sub(suffix), last: size - 1 }
            }
        };
    }
    let Some(first) = parse(first) else {
        return RangeRequest::Ignored;
    };
    let last = match last.is_empty() {
        true => u64::MAX,
        false => match parse(last) {
            Some(last) => last,
            None => return RangeRequest::Ignored,
        },
    };
    if last < first {
        RangeRequest::Ignored
    } else if first >= size {
        RangeRequest::Unsatisfiable
    } else {
        RangeRequest::Bytes { first, last: last.min(size - 1) }
    }
}

#[cfg(test)]
mod tests {
    use super::{RangeRequest::*, parse_range};

    #[test]
    fn byte_ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Bytes { first: 0, last: 9 });
        assert_eq!(parse_range("bytes=90-", 100), Bytes { first: 90, last: 99 });
        assert_eq!(parse_range("bytes=90-500", 100), Bytes { first: 90, last: 99 });
        assert_eq!(parse_range("bytes=-10", 100), Bytes { first: 90, last: 99 });
        assert_eq!(parse_range("bytes=-500", 100), Bytes { first: 0, last: 99 });
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 100), Ignored);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ignored);
        assert_eq!(parse_range("items=0-1", 100), Ignored);
        assert_eq!(parse_range("bytes=a-b", 100), Ignored);
    }
}
