//! An MP4's index (its `moov` box), written last by a muxer that writes front to back, moved
//! to the front as `-movflags +faststart` moves it: after the `ftyp` box, with every chunk
//! offset it holds shifted by its own size (32-bit offsets that would overflow become 64-bit,
//! which makes the index larger, so its size is found again until it holds).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use bytes::Bytes;

use crate::ports::MovedIndex;

/// Boxes that hold the boxes with chunk offsets.
const CONTAINERS: [&[u8; 4]; 5] = [b"moov", b"trak", b"mdia", b"minf", b"stbl"];
/// The largest index read into memory (an hour of 60 fps video with sound needs about 5 MB).
const MAX_INDEX: u64 = 256 * 1024 * 1024;

/// Why an MP4's boxes cannot be rearranged.
#[derive(Debug, thiserror::Error)]
pub enum Mp4Error {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("its boxes do not add up: {0}")]
    Malformed(String),
}

/// A top-level box: its type, where it starts and how long it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TopBox {
    kind: [u8; 4],
    start: u64,
    size: u64,
}

/// The index of the MP4 at `path` moved in front of its media data, or `None` when it is there
/// already (or the file has no index to move).
pub fn index_to_front(path: &Path) -> Result<Option<MovedIndex>, Mp4Error> {
    let mut file = std::fs::File::open(path)?;
    let boxes = top_boxes(&mut file)?;
    let (Some(moov), Some(mdat)) = (find(&boxes, b"moov"), find(&boxes, b"mdat")) else {
        return Ok(None);
    };
    if moov.start < mdat.start {
        return Ok(None);
    }
    if boxes.last() != Some(moov) {
        return Err(Mp4Error::Malformed("the index is not the last box".into()));
    }
    if moov.size > MAX_INDEX {
        return Err(Mp4Error::Malformed(format!("an index of {} bytes", moov.size)));
    }
    let at = boxes.first().filter(|first| &first.kind == b"ftyp").map_or(0, |ftyp| ftyp.size);
    let mut index = vec![0; moov.size as usize];
    file.seek(SeekFrom::Start(moov.start))?;
    file.read_exact(&mut index)?;
    Ok(Some(MovedIndex { at, index: Bytes::from(shift_to_fit(&index)?), end: moov.start }))
}

fn find<'a>(boxes: &'a [TopBox], kind: &[u8; 4]) -> Option<&'a TopBox> {
    boxes.iter().find(|b| &b.kind == kind)
}

/// The file's top-level boxes, which must cover it exactly.
fn top_boxes(file: &mut std::fs::File) -> Result<Vec<TopBox>, Mp4Error> {
    let length = file.metadata()?.len();
    let mut boxes = Vec::new();
    let mut start = 0;
    while start < length {
        let mut header = [0u8; 16];
        let available = (length - start).min(16) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut header[..available])?;
        let (header_len, size) = box_size(&header[..available], length - start)?;
        if size < header_len {
            return Err(Mp4Error::Malformed(format!("a box of {size} bytes at {start}")));
        }
        boxes.push(TopBox { kind: header[4..8].try_into().expect("four bytes"), start, size });
        start += size;
    }
    if start != length {
        return Err(Mp4Error::Malformed(format!("the last box ends at {start}, past the file's {length} bytes")));
    }
    Ok(boxes)
}

/// A box's header length and whole size from its first bytes; `left` is what follows its start.
fn box_size(header: &[u8], left: u64) -> Result<(u64, u64), Mp4Error> {
    if header.len() < 8 {
        return Err(Mp4Error::Malformed(format!("{} bytes where a box header was due", header.len())));
    }
    match u32::from_be_bytes(header[..4].try_into().expect("four bytes")) {
        0 => Ok((8, left)),
        1 if header.len() >= 16 => Ok((16, u64::from_be_bytes(header[8..16].try_into().expect("eight bytes")))),
        1 => Err(Mp4Error::Malformed("a cut 64-bit box header".into())),
        size => Ok((8, u64::from(size))),
    }
}

/// The index with its chunk offsets shifted by its own new size.
fn shift_to_fit(index: &[u8]) -> Result<Vec<u8>, Mp4Error> {
    let mut size = index.len();
    // Each round can only turn more 32-bit tables into 64-bit ones: a few rounds settle it.
    for _ in 0..8 {
        let shifted = shifted(index, size as u64)?;
        if shifted.len() == size {
            return Ok(shifted);
        }
        size = shifted.len();
    }
    Err(Mp4Error::Malformed("the index's size does not settle".into()))
}

/// `boxes` with the chunk offsets in them moved `delta` bytes later.
fn shifted(mut boxes: &[u8], delta: u64) -> Result<Vec<u8>, Mp4Error> {
    let mut out = Vec::with_capacity(boxes.len() + 64);
    while !boxes.is_empty() {
        let (header_len, size) = box_size(&boxes[..boxes.len().min(16)], boxes.len() as u64)?;
        if size < header_len || size > boxes.len() as u64 {
            return Err(Mp4Error::Malformed(format!("a box of {size} bytes in {} left", boxes.len())));
        }
        let kind: [u8; 4] = boxes[4..8].try_into().expect("four bytes");
        let body = &boxes[header_len as usize..size as usize];
        match &kind {
            kind if CONTAINERS.contains(&kind) => write_box(&mut out, kind, &shifted(body, delta)?),
            b"stco" | b"co64" => {
                let wide = &kind == b"co64";
                let offsets = offsets(body, wide)?.into_iter().map(|offset| offset + delta).collect::<Vec<_>>();
                write_offsets(&mut out, &body[..4], &offsets);
            }
            _ => out.extend_from_slice(&boxes[..size as usize]),
        }
        boxes = &boxes[size as usize..];
    }
    Ok(out)
}

/// The chunk offsets of an `stco` (32-bit) or `co64` (64-bit) box's body.
fn offsets(body: &[u8], wide: bool) -> Result<Vec<u64>, Mp4Error> {
    let width = if wide { 8 } else { 4 };
    let count = body.get(4..8).map(|b| u32::from_be_bytes(b.try_into().expect("four bytes")) as usize);
    let entries = body.get(8..).filter(|entries| count.is_some_and(|count| entries.len() == count * width));
    let entries = entries.ok_or_else(|| Mp4Error::Malformed("a chunk offset table of the wrong length".into()))?;
    Ok(entries
        .chunks_exact(width)
        .map(|entry| match wide {
            true => u64::from_be_bytes(entry.try_into().expect("eight bytes")),
            false => u64::from(u32::from_be_bytes(entry.try_into().expect("four bytes"))),
        })
        .collect())
}

/// A chunk offset table: 32-bit (`stco`) while every offset fits, else 64-bit (`co64`).
fn write_offsets(out: &mut Vec<u8>, version_flags: &[u8], offsets: &[u64]) {
    let narrow = offsets.iter().all(|offset| u32::try_from(*offset).is_ok());
    let mut body = Vec::with_capacity(8 + offsets.len() * 8);
    body.extend_from_slice(version_flags);
    body.extend_from_slice(&(offsets.len() as u32).to_be_bytes());
    for offset in offsets {
        match narrow {
            true => body.extend_from_slice(&(*offset as u32).to_be_bytes()),
            false => body.extend_from_slice(&offset.to_be_bytes()),
        }
    }
    write_box(out, if narrow { b"stco" } else { b"co64" }, &body);
}

fn write_box(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    let size = body.len() as u64 + 8;
    match u32::try_from(size) {
        Ok(size) => out.extend_from_slice(&size.to_be_bytes()),
        Err(_) => {
            out.extend_from_slice(&1u32.to_be_bytes());
            out.extend_from_slice(kind);
            out.extend_from_slice(&(size + 8).to_be_bytes());
            out.extend_from_slice(body);
            return;
        }
    }
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_box(&mut out, kind, body);
        out
    }

    fn stco(offsets: &[u32]) -> Vec<u8> {
        let mut body = vec![0, 0, 0, 0];
        body.extend_from_slice(&(offsets.len() as u32).to_be_bytes());
        offsets.iter().for_each(|o| body.extend_from_slice(&o.to_be_bytes()));
        boxed(b"stco", &body)
    }

    /// moov(mvhd, trak(tkhd, mdia(minf(stbl(stsz, stco)))))
    fn index(offsets: &[u32]) -> Vec<u8> {
        let stbl = boxed(b"stbl", &[boxed(b"stsz", &[7; 12]), stco(offsets)].concat());
        let mdia = boxed(b"mdia", &boxed(b"minf", &stbl));
        boxed(b"moov", &[boxed(b"mvhd", &[1; 20]), boxed(b"trak", &[boxed(b"tkhd", &[2; 16]), mdia].concat())].concat())
    }

    fn stco_entries(index: &[u8]) -> (bool, Vec<u64>) {
        let at = index.windows(4).position(|w| w == b"stco" || w == b"co64").expect("an offset table");
        let wide = &index[at..at + 4] == b"co64";
        let size = u32::from_be_bytes(index[at - 4..at].try_into().unwrap()) as usize;
        (wide, offsets(&index[at + 4..at - 4 + size], wide).unwrap())
    }

    #[test]
    fn offsets_move_by_the_index_size_and_everything_else_is_kept() {
        let original = index(&[48, 1000, 5000]);
        let shifted = shift_to_fit(&original).unwrap();
        assert_eq!(shifted.len(), original.len());
        let delta = original.len() as u64;
        assert_eq!(stco_entries(&shifted), (false, vec![48 + delta, 1000 + delta, 5000 + delta]));
        let kept = |index: &[u8]| index.windows(4).filter(|w| [&b"mvhd"[..], b"tkhd", b"stsz"].contains(w)).count();
        assert_eq!(kept(&shifted), 3);
        assert_eq!(&shifted[..shifted.len() - 24], &original[..original.len() - 24], "only the offsets differ");
    }

    #[test]
    fn offsets_past_four_gigabytes_turn_the_table_wide_and_count_its_growth() {
        let original = index(&[48, u32::MAX - 100]);
        let shifted = shift_to_fit(&original).unwrap();
        assert_eq!(shifted.len(), original.len() + 8, "two entries of 8 bytes instead of 4");
        let delta = shifted.len() as u64;
        assert_eq!(stco_entries(&shifted), (true, vec![48 + delta, u64::from(u32::MAX - 100) + delta]));
        let moov_size = u32::from_be_bytes(shifted[..4].try_into().unwrap()) as usize;
        assert_eq!(moov_size, shifted.len(), "the enclosing boxes grew with it");
    }

    #[test]
    fn a_file_is_read_by_its_top_boxes_and_only_an_index_behind_the_data_is_moved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.mp4");
        let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2");
        let free = boxed(b"free", &[]);
        let mdat = boxed(b"mdat", &[9; 100]);
        let data_at = (ftyp.len() + free.len() + 8) as u32;
        let moov = index(&[data_at, data_at + 50]);
        std::fs::write(&path, [ftyp.clone(), free.clone(), mdat.clone(), moov.clone()].concat()).unwrap();
        let moved = index_to_front(&path).unwrap().expect("an index behind the data");
        assert_eq!((moved.at, moved.end), (ftyp.len() as u64, (ftyp.len() + free.len() + mdat.len()) as u64));
        let delta = moov.len() as u64;
        assert_eq!(stco_entries(&moved.index).1, vec![u64::from(data_at) + delta, u64::from(data_at) + 50 + delta]);

        std::fs::write(&path, [ftyp.clone(), moov.clone(), mdat.clone()].concat()).unwrap();
        assert!(index_to_front(&path).unwrap().is_none(), "already in front");
        std::fs::write(&path, [ftyp.clone(), mdat.clone(), moov.clone(), free.clone()].concat()).unwrap();
        assert!(matches!(index_to_front(&path), Err(Mp4Error::Malformed(_))), "not last");
        std::fs::write(&path, [ftyp, mdat, moov[..moov.len() - 3].to_vec()].concat()).unwrap();
        assert!(matches!(index_to_front(&path), Err(Mp4Error::Malformed(_))), "cut short");
    }
}
