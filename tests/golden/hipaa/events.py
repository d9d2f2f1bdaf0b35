# events.py - the disclosure events of the HIPAA accounting's golden fixtures
# (tests/sh/hipaa_accounting.sh): prints the bulk body for one organization.
# usage: python3 events.py org-a|org-b
import json, sys

def disc(ts, recipient, purpose, basis, description="medical record", patient="P-1001",
         status="success", cls="PHI", action="phi.disclose"):
    d = {"recipient": recipient, "purpose": purpose, "description": description}
    if basis is not None:
        d["basis"] = basis
    return {"timestamp": ts, "action": action, "status": status, "principalId": "clerk-7",
            "targetResourceType": "Patient", "targetResourceId": patient,
            "dataClassification": cls, "details": {"disclosure": d}}

registry = {"name": "State Immunization Registry", "address": "100 Capitol Ave, Springfield"}
org_a = [
    disc("2026-01-05T10:00:00Z", registry, "immunization reporting", "public_health", "immunization record"),
    disc("2026-01-06T10:00:00Z", {"name": "Dr. Jones"}, "consult", "treatment"),
    disc("2026-02-05T10:00:00Z", {"name": "state  immunization registry"}, "immunization reporting", "public_health", "immunization record"),
    disc("2026-02-10T10:00:00Z", {"name": "Acme Insurance"}, "claim", "payment"),
    disc("2026-02-11T10:00:00Z", {"name": "the patient"}, "copy of chart", "individual"),
    disc("2026-02-12T10:00:00Z", {"name": "QA team"}, "quality review", "operations"),
    disc("2026-03-05T10:00:00Z", registry, "immunization reporting", "public_health", "immunization record"),
    disc("2026-03-10T10:00:00Z", {"name": "County Sheriff", "address": "5 Court St"}, "response to a subpoena", "law_enforcement", "ED visit note"),
    disc("2026-03-12T10:00:00Z", {"name": "Life Insurer"}, "underwriting", "authorization"),
    disc("2026-03-13T10:00:00Z", {"name": "Visitor"}, "room number", "directory"),
    disc("2026-03-14T10:00:00Z", {"name": "Cleaner"}, "overheard", "incidental"),
    disc("2026-03-15T10:00:00Z", {"name": "Federal Agency"}, "intelligence", "national_security"),
    disc("2026-03-16T10:00:00Z", {"name": "State Prison"}, "custody", "correctional"),
    disc("2026-03-17T10:00:00Z", {"name": "Analytics Co"}, "study", "limited_data_set"),
    disc("2026-03-18T10:00:00Z", {"name": "Spouse"}, "notification", "involved_in_care"),
    disc("2026-04-01T10:00:00Z", {"name": "State Medical Board"}, "licensure investigation", "health_oversight", "operative report"),
    disc("2026-04-02T10:00:00Z", {"name": "Failed Recipient"}, "failed", "public_health", status="failure"),
    disc("2026-04-03T10:00:00Z", {"name": "Not PHI Recipient"}, "not phi", "public_health", cls="CONFIDENTIAL"),
    disc("2026-04-04T10:00:00Z", {"name": "Other Patient's Recipient"}, "other", "public_health", patient="P-2002"),
    disc("2026-05-01T10:00:00Z", "University IRB", "research", "research", "discharge summary"),
    disc("2026-05-02T10:00:00Z", {"name": "Court Clerk"}, "court order", None, "lab results"),
    {"timestamp": "2026-05-03T10:00:00Z", "action": "chart.read", "status": "success", "principalId": "dr-house",
     "targetResourceType": "Patient", "targetResourceId": "P-1001", "dataClassification": "PHI"},
]
org_b = [
    disc("2026-02-01T10:00:00Z", {"name": "Org B Secret Recipient"}, "org b purpose", "public_health"),
]
print(json.dumps({"events": org_a if sys.argv[1] == "org-a" else org_b}))
