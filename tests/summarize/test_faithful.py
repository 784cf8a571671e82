"""The faithfulness check on realistic articles and summaries, in English, German, French and
Spanish: faithful paraphrases pass, an invented number or name is caught."""

from __future__ import annotations

import pytest

from digest.summarize import unfaithful

BRIDGE = (
    "Harbor bridge reopens after two-year, $212 million repair\n\n"
    "The harbor bridge reopened to traffic on Tuesday, ending two years of detours. Mayor "
    "Karen Bass and Caltrans director Tony Tavares cut a ribbon at 6 a.m. and the first cars "
    "rolled across minutes later. The repairs cost $212 million, about $30 million more than "
    "planned, and 1,200 workers took part."
)
BRÜCKE = (
    "Köhlbrandbrücke wieder offen\n\n"
    "Die Hansestadt Hamburg hat die Sanierung der Köhlbrandbrücke abgeschlossen. Die Arbeiten "
    "kosteten 3,5 Mio. Euro, rund 1.200 Lkw-Fahrten am Tag wurden umgeleitet. Ab dem 3. Oktober "
    "ist die Brücke wieder für alle frei, sagte Verkehrssenator Anjes Tjarks (Grüne) am Montag."
)
PONT = (
    "Le pont de Normandie rouvre\n\n"
    "Le pont de Normandie a rouvert lundi après huit mois de travaux. La Chambre de commerce "
    "du Havre, qui l'exploite, a investi 12,5 millions d'euros, a indiqué son président "
    "Jean-Luc Léger."
)
PUENTE = (
    "Reabre el puente de Rande\n\n"
    "El puente de Rande, en Vigo, reabrió el martes tras dos meses de obras. El Ministerio de "
    "Transportes invirtió 4,2 millones de euros, según explicó la ministra Raquel Sánchez."
)


@pytest.mark.parametrize(
    ("summary", "article", "language"),
    [
        # digits for number words, grouped numbers, a sentence-initial "City", possessives
        (
            "The harbor bridge reopened on Tuesday after 2 years and $212 million of repairs, "
            "which 1200 workers carried out; Mayor Bass's ribbon was cut at 6 a.m.",
            BRIDGE,
            "en",
        ),
        ("Caltrans finished the $212m repair $30m over budget; the bridge is open.", BRIDGE, "en"),
        ("I think the bridge reopened.", BRIDGE, "en"),
        # German nouns are capitalized: a paraphrase with other nouns is no invented name
        (
            "Nach der Sanierung ist die Köhlbrandbrücke in Hamburg ab dem 3. Oktober wieder "
            "offen; die Arbeiten kosteten 3,5 Millionen Euro, täglich wurden 1200 Lkw "
            "umgeleitet, so Senator Tjarks von den Grünen.",
            BRÜCKE,
            "de",
        ),
        ("Die Brücke ist für Sie wieder offen, sagt Tjarks.", BRÜCKE, "de"),
        # French and Spanish: decimal commas, hyphenated names, lower-case days
        (
            "Le pont de Normandie a rouvert lundi après 8 mois de travaux, pour 12,5 millions "
            "d'euros investis par la Chambre de commerce du Havre, selon Jean-Luc Léger.",
            PONT,
            "fr",
        ),
        (
            "El puente de Rande reabrió el martes tras 2 meses de obras y una inversión de 4,2 "
            "millones de euros del Ministerio de Transportes, dijo Raquel Sánchez.",
            PUENTE,
            "es",
        ),
    ],
)
def test_faithful_summaries_pass(summary: str, article: str, language: str) -> None:
    assert unfaithful(summary, article, language) == []


@pytest.mark.parametrize(
    ("summary", "article", "language", "named"),
    [
        (
            "The harbor bridge reopened on Wednesday after $250 million of repairs.",
            BRIDGE,
            "en",
            ["250", "Wednesday"],
        ),
        (
            "The bridge reopened, said Governor Gavin Newsom, after 3 years.",
            BRIDGE,
            "en",
            ["3", "Governor", "Gavin", "Newsom"],
        ),
        ("Repairs cost 2.12 million dollars.", BRIDGE, "en", ["2.12"]),
        (
            "Die Köhlbrandbrücke in Bremen ist ab dem 4. Oktober offen, sagte Olaf Scholz.",
            BRÜCKE,
            "de",
            ["4", "Bremen", "Olaf", "Scholz"],
        ),
        ("Die SPD feiert die Brücke für 3,5 Mio. Euro.", BRÜCKE, "de", ["SPD"]),
        (
            "Le pont de Tancarville a rouvert lundi, selon Emmanuel Macron.",
            PONT,
            "fr",
            ["Tancarville", "Emmanuel", "Macron"],
        ),
        (
            "El puente de Rande reabrió tras 3 meses, según Óscar Puente.",
            PUENTE,
            "es",
            ["3", "Óscar"],
        ),
    ],
)
def test_an_invented_number_or_name_is_caught(
    summary: str, article: str, language: str, named: list[str]
) -> None:
    assert unfaithful(summary, article, language) == named


def test_numbers_read_every_plausible_way() -> None:
    assert unfaithful("It cost 1.2 million.", "It cost 1,200,000.", "en") == ["1.2"]
    assert unfaithful("Es kostete 1,2 Mio.", "It cost 1.2 million.", "de") == []
    assert unfaithful("It seats 1.200 people.", "Der Saal hat 1200 Plätze.", "en") == []
    assert unfaithful("It opens on 1.10.2026.", "Opening: 1 October 2026.", "en") == []
    assert unfaithful("It opens at 7:30.", "The doors open at 7.30am.", "en") == []
    assert unfaithful("Twelve, 12 or a dozen.", "a dozen eggs", "en") == []
    assert unfaithful("Es waren 13.", "Es waren zwölf.", "de") == ["13"]


def test_an_unknown_language_is_guessed_from_its_capitals() -> None:
    german = (
        "Nach der Sanierung ist die Köhlbrandbrücke in Hamburg wieder offen; die Arbeiten "
        "kosteten 3,5 Millionen Euro."
    )
    assert unfaithful(german, BRÜCKE, None) == []
    assert unfaithful(german.replace("Hamburg", "Bremen"), BRÜCKE, None) == ["Bremen"]
    assert unfaithful("The bridge reopened, said Gavin Newsom.", BRIDGE, None) == [
        "Gavin",
        "Newsom",
    ]
