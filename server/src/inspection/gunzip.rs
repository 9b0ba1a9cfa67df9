//! gunzip as a reader, for the upload's check. Inflating is most of what checking a real
//! (compressible) droplet costs, so with the default `isal` feature it is ISA-L's inflate
//! (through `isal-sys`), which inflated droplets 1.4 to 1.6 times as fast as zlib-rs here;
//! without it, flate2's zlib-rs, which needs no assembler to build.
//!
//! The calls into ISA-L here are `unsafe` code, as are `crate::allocator`'s two calls into glibc
//! (`mallopt`, `malloc_trim`); the crate has no other. Not isal-rs, the safe binding: it spins
//! forever on input that ends inside a member (it asks its reader again and again), which any
//! client could send.
//!
//! Either way concatenated members are one stream, as `gunzip` reads them; anything after the
//! last member must be another member; input that ends inside a member is an error, never a
//! short read; and each member's trailer (the CRC-32 and length of what it inflated) is checked.

#![cfg_attr(feature = "isal", allow(unsafe_code))]

use std::io::{BufRead, Read};
#[cfg(feature = "isal")]
use std::{io, mem::MaybeUninit};

#[cfg(feature = "isal")]
use isal_sys::igzip_lib as isal;

/// The decompressed stream of `input`.
#[cfg(feature = "isal")]
pub fn gunzip(input: impl BufRead) -> impl Read {
    Gunzip::new(input)
}

#[cfg(not(feature = "isal"))]
pub fn gunzip(input: impl BufRead) -> impl Read {
    flate2::bufread::MultiGzDecoder::new(input)
}

/// ISA-L's inflate as a reader. ISA-L parses each member's gzip header and verifies its trailer
/// itself.
#[cfg(feature = "isal")]
struct Gunzip<R> {
    input: R,
    /// ISA-L's inflate state: 70 KiB, its history window and tables, so it lives on the heap.
    state: Box<isal::inflate_state>,
    /// Why the stream was refused, once it was: the state is not used again.
    refused: Option<String>,
}

#[cfg(feature = "isal")]
impl<R: BufRead> Gunzip<R> {
    fn new(input: R) -> Self {
        let mut state: Box<MaybeUninit<isal::inflate_state>> = Box::new_uninit();
        // SAFETY: isal_inflate_init sets up every field the state's users read; zeroing first
        // leaves no byte uninitialized.
        let state = unsafe {
            state.as_mut_ptr().write_bytes(0, 1);
            isal::isal_inflate_init(state.as_mut_ptr());
            state.assume_init()
        };
        let mut gunzip = Gunzip { input, state, refused: None };
        gunzip.state.crc_flag = isal::ISAL_GZIP;
        gunzip
    }
}

#[cfg(feature = "isal")]
fn member_finished(state: &isal::inflate_state) -> bool {
    state.block_state == isal::isal_block_state_ISAL_BLOCK_FINISH
}

#[cfg(feature = "isal")]
impl<R: BufRead> Read for Gunzip<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(refused) = &self.refused {
            return Err(io::Error::new(io::ErrorKind::InvalidData, refused.clone()));
        }
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let input = self.input.fill_buf()?;
            if member_finished(&self.state) {
                if input.is_empty() {
                    return Ok(0);
                }
                // Another member follows.
                // SAFETY: the state was initialized in `new`.
                unsafe { isal::isal_inflate_reset(&mut *self.state) };
                self.state.crc_flag = isal::ISAL_GZIP;
            }
            let at_end = input.is_empty();
            let available = input.len().min(u32::MAX as usize);
            self.state.next_in = input.as_ptr().cast_mut();
            self.state.avail_in = available as u32;
            self.state.next_out = out.as_mut_ptr();
            self.state.avail_out = out.len().min(u32::MAX as usize) as u32;
            // SAFETY: next_in/avail_in describe `input`, which ISA-L only reads, and
            // next_out/avail_out describe `out`; both outlive the call.
            let status = unsafe { isal::isal_inflate(&mut *self.state) };
            // On an error ISA-L's counts are not to be trusted (on some corrupt input it leaves
            // `avail_in` past what it was given), and the stream is refused anyway: whatever was
            // consumed no longer matters, and every later read fails too.
            if status != isal::ISAL_DECOMP_OK as i32 {
                let refused = io::Error::new(io::ErrorKind::InvalidData, describe(status));
                self.refused = Some(refused.to_string());
                return Err(refused);
            }
            let consumed = available.checked_sub(self.state.avail_in as usize);
            let produced = out.len().checked_sub(self.state.avail_out as usize);
            let (Some(consumed), Some(produced)) = (consumed, produced) else {
                let refused = "the inflater reported more room than it was given";
                self.refused = Some(refused.to_owned());
                return Err(io::Error::new(io::ErrorKind::InvalidData, refused));
            };
            self.input.consume(consumed);
            if produced > 0 {
                return Ok(produced);
            }
            if at_end && !member_finished(&self.state) {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the gzip stream ends before its last member does",
                ));
            }
            // Only a header or trailer was read, or the input ran out mid-symbol: go on.
        }
    }
}

#[cfg(feature = "isal")]
fn describe(status: i32) -> String {
    let what = match status {
        isal::ISAL_INVALID_BLOCK => "invalid deflate block",
        isal::ISAL_INVALID_SYMBOL => "invalid deflate symbol",
        isal::ISAL_INVALID_LOOKBACK => "invalid deflate distance",
        isal::ISAL_INVALID_WRAPPER => "invalid gzip header",
        isal::ISAL_UNSUPPORTED_METHOD => "unsupported gzip compression method",
        isal::ISAL_INCORRECT_CHECKSUM => "gzip checksum or length mismatch",
        _ => return format!("gzip stream rejected (ISA-L status {status})"),
    };
    what.to_owned()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::gunzip;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::new(6));
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// Text-like bytes that deflate codes with matches and literals alike.
    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| format!("line {} of {}\n", i % 977, i / 13).into_bytes())
            .collect()
    }

    fn inflate(gz: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        // Small reads of the input, as the upload's chunks arrive.
        let input = std::io::BufReader::with_capacity(1000, gz);
        gunzip(input).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn inflates_one_member_and_concatenated_members() {
        let data = sample();
        assert_eq!(inflate(&gzip(&data)).unwrap(), data);
        let mut two = gzip(&data);
        two.extend(gzip(b"and a second member\n"));
        let mut both = data.clone();
        both.extend_from_slice(b"and a second member\n");
        assert_eq!(inflate(&two).unwrap(), both);
    }

    #[test]
    fn input_that_ends_inside_a_member_is_an_error() {
        let gz = gzip(&sample());
        for cut in [0, 5, 10, gz.len() / 2, gz.len() - 4, gz.len() - 1] {
            let error = inflate(&gz[..cut]).expect_err("a truncated stream");
            assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "cut at {cut}: {error}");
        }
    }

    #[test]
    fn a_wrong_checksum_or_length_is_an_error() {
        let gz = gzip(&sample());
        for byte in [gz.len() - 8, gz.len() - 2] {
            let mut bad = gz.clone();
            bad[byte] ^= 1;
            assert!(inflate(&bad).is_err(), "trailer byte {byte} changed");
        }
    }

    /// Found by the inspection's property test: on this corrupt second member ISA-L fails with
    /// `avail_in` past the input it was given, which once made the reader panic.
    #[test]
    fn a_corrupt_member_that_confuses_the_inflater_is_an_error() {
        let gz = hex::decode(
            "1f8b08000000000000ff636018990000c4cd7bbaf80000001f8b08000000000000ff6360c01805a36014\
             00002f30805808030000",
        )
        .unwrap();
        let mut out = Vec::new();
        let mut reader = gunzip(std::io::BufReader::with_capacity(52, gz.as_slice()));
        reader.read_to_end(&mut out).expect_err("a corrupt stream");
        if cfg!(feature = "isal") {
            assert!(reader.read(&mut [0; 16]).is_err(), "a refused stream reads on");
        }
    }

    #[test]
    fn bytes_after_the_last_member_must_be_a_member() {
        let mut gz = gzip(&sample());
        gz.extend_from_slice(b"trailing garbage");
        assert!(inflate(&gz).is_err());
    }
}
