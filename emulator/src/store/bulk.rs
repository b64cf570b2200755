//! Bulk seeding for benchmarks (`POST /_emulator/bulk`): a drive with hundreds of
//! thousands of files, made in one go.
//!
//! The items are ordinary ones, logged as ordinary creations, so a full delta
//! enumeration returns them and a cursor taken before sees them as changes. Only the
//! way they are made differs from uploads: [`Drive::put_content`] looks names up by
//! scanning the drive, which is fine for one file and quadratic for 200,000, so this
//! builds the tree knowing every name is new and every parent is fresh.

use super::{drive_key, name_conflict, validate_name, Drive, DriveItem, Log, Snapshot, Stamp};
use crate::error::GraphError;

/// The folder under the root that holds a bulk tree.
pub const BULK_FOLDER: &str = "bulk";

/// The name of bulk folder `n` (`f0007`).
pub fn folder_name(n: usize) -> String {
    format!("f{n:04}")
}

/// The name of bulk file `n` (`file-000123.txt`).
pub fn file_name(n: usize) -> String {
    format!("file-{n:06}.txt")
}

impl Drive {
    /// Under the root, make `top/` (`bulk/` by default) with `folders` folders
    /// (`f0000`…) and `files` small text files spread over them in turn: file `n` goes to
    /// folder `n % folders` (`bulk/f0007/file-000123.txt`). Logged as put_content would
    /// log them, parents first: the root's change, then `top`, the folders, the files.
    /// (Another `top` makes a second tree in the same drive: a benchmark's round of many
    /// changes at once.)
    ///
    /// Refused with 409 if the root already has a `top`: names in it would collide,
    /// and a benchmark wants a known tree.
    pub fn bulk(
        &mut self,
        log: &mut Log,
        at: &Stamp,
        top: &str,
        folders: usize,
        files: usize,
    ) -> Result<(), GraphError> {
        if folders == 0 {
            return Err(GraphError::bad_request("folders must be at least 1"));
        }
        validate_name(top)?;
        let root = self.root_id.clone();
        if self.child_named(&root, top).is_some() {
            return Err(name_conflict(top));
        }
        log.entries.reserve(folders + files + 2);
        let key = drive_key(&self.id);
        self.touch_folders(log, at, std::slice::from_ref(&root));

        let top = self.new_item(at, top, &root, None);
        let top_id = top.id.clone();
        self.add_logged(log, at, &key, top);
        let mut parents = Vec::with_capacity(folders);
        for n in 0..folders {
            let folder = self.new_item(at, &folder_name(n), &top_id, None);
            parents.push(folder.id.clone());
            self.add_logged(log, at, &key, folder);
        }
        for n in 0..files {
            let name = file_name(n);
            let mut file = self.new_item(at, &name, &parents[n % folders], Some("text/plain"));
            // The content a benchmark would have uploaded: one short line.
            file.size = format!("bulk file {n}\n").len() as u64;
            self.add_logged(log, at, &key, file);
        }
        Ok(())
    }

    /// Insert a new item and log its creation under `key` (this drive's log key).
    fn add_logged(&mut self, log: &mut Log, at: &Stamp, key: &str, item: DriveItem) {
        log.append(
            at,
            key,
            &item.id,
            Snapshot::DriveItem {
                item: item.clone(),
                deleted: false,
            },
        );
        self.items.insert(item.id.clone(), item);
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::seed;
    use crate::store::Data;

    #[test]
    fn bulk_makes_the_tree_and_logs_it_parents_first() {
        let mut data = Data::seeded(Utc::now());
        let before = data.log.seq;
        let at = Stamp::new(seed::ADELE_ID, 0);
        data.mutate_drive(seed::ADELE_DRIVE, |d, log| {
            d.bulk(log, &at, BULK_FOLDER, 3, 10)
        })
        .expect("bulk");
        let drive = &data.drives[seed::ADELE_DRIVE];
        let file = drive
            .by_path(&drive.root_id, "bulk/f0001/file-000007.txt")
            .expect("file 7 is in folder 7 % 3");
        assert_eq!(file.size, "bulk file 7\n".len() as u64);
        assert_eq!(drive.children(&drive.root().unwrap().id).len(), 4);
        // The root, bulk, 3 folders, 10 files.
        assert_eq!(data.log.seq - before, 15);
        let logged: Vec<&str> = data.log.entries[before as usize..]
            .iter()
            .filter_map(|c| c.state.drive_item().map(|i| i.name.as_str()))
            .collect();
        assert_eq!(&logged[..3], ["root", "bulk", "f0000"]);

        let again = data.mutate_drive(seed::ADELE_DRIVE, |d, log| {
            d.bulk(log, &at, BULK_FOLDER, 1, 1)
        });
        assert_eq!(again.err().map(|e| e.status.as_u16()), Some(409));
        assert_eq!(data.log.seq - before, 15, "a refused bulk logs nothing");
    }
}
