import Domain
import LMDB
import Zstd

/// Read access to stored records for tools that open the LMDB file themselves (forensics,
/// benchmarks of the raw baseline). Ordinary readers use `EventLog`'s read API.
public enum StoredRecord {
    /// Where a record's payload is and how it is stored.
    public struct PayloadLocation {
        /// 0: raw canonical bytes; 1: one magicless zstd frame; 2: one bare zstd block.
        public let encoding: UInt8
        /// The dictionary the payload was compressed with (0: none).
        public let dictionaryID: UInt32
        /// The stored payload bytes (a view into `record`).
        public let bytes: UnsafeRawBufferPointer
    }

    /// Parses the header of the record stored under `seq` and locates its payload.
    public static func payload(seq: UInt64, record: UnsafeRawBufferPointer) throws -> PayloadLocation {
        var r = ByteReader(record)
        let h = try RecordHeader.read(seq: seq, from: &r)
        return PayloadLocation(encoding: h.encoding.rawValue, dictionaryID: h.dictionaryID, bytes: r.rest())
    }
}

extension EventLog {
    /// The raw bytes of compression dictionary `id` (for tools that decompress records themselves).
    public func dictionaryBytes(_ id: UInt32) throws -> [UInt8] {
        try core.read { txn in try core.loadDictionary(id, txn).bytes }
    }
}
