"""MongoDB access through pymongo: collections, indexes and the records Homeward keeps."""
