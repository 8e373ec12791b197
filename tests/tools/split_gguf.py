"""Splits a GGUF file the way llama.cpp's converter does (gguf-py's GGUFWriter with
split_max_tensors): OUT_STEM-00001-of-0000N.gguf ..., the metadata in the first part.

usage: split_gguf.py IN.gguf OUT_STEM.gguf MAX_TENSORS_PER_PART [--small-first-shard]
Prints the paths written, one a line. Needs the venv's gguf package (scripts/venv.sh).
"""
import sys

import gguf


def main() -> None:
    src, out, max_tensors = sys.argv[1], sys.argv[2], int(sys.argv[3])
    small_first = "--small-first-shard" in sys.argv[4:]
    reader = gguf.GGUFReader(src)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(out, arch, split_max_tensors=max_tensors, small_first_shard=small_first)
    for field in reader.fields.values():
        # GGUF.* are the reader's virtual fields; the writer adds the architecture itself.
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub_type)
    for t in reader.tensors:
        writer.add_tensor_info(t.name, t.data.shape, t.data.dtype, t.data.nbytes, t.tensor_type)
    names = writer.format_shard_names(writer.path)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for t in reader.tensors:
        writer.write_tensor_data(t.data, tensor_endianess=reader.endianess)
    writer.close()
    for n in names:
        print(n)


if __name__ == "__main__":
    main()
