"""Qt-free PACS client: DIMSE (pynetdicom) and DICOMweb (QIDO-RS / WADO-RS / STOW-RS).

`client_for(node)` returns the right client for a configured node; both clients share one interface:
`echo()`, `find_studies(query)`, `find_series(study_uid)`, `retrieve(study_uid, series_uid, dest_dir, progress=,
cancel=)`, `store(items, progress=, cancel=)`. Every network call has a timeout; failures raise the PacsError
family from inference/errors.py.
"""
from inference.pacs.nodes import DicomWebNode, DimseNode, PacsNode, node_from_dict, node_to_dict
from inference.pacs.query import SeriesResult, StoreResult, StudyQuery, StudyResult


def client_for(node: PacsNode):
    """The client for `node`: DimseClient for a DIMSE node, DicomWebClient for a DICOMweb node."""
    if isinstance(node, DimseNode):
        from inference.pacs.dimse import DimseClient

        return DimseClient(node)
    from inference.pacs.dicomweb import DicomWebClient

    return DicomWebClient(node)


__all__ = ["DicomWebNode", "DimseNode", "PacsNode", "SeriesResult", "StoreResult", "StudyQuery", "StudyResult",
           "client_for", "node_from_dict", "node_to_dict"]
