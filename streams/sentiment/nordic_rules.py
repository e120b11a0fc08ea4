"""The word lists of the Danish, Norwegian and Swedish rules: negations, intensifiers, contrast words.

They start from asent 0.8.3's lists (MIT; `streams/sentiment/lexicons/README.md`), with these corrections:
- asent's Norwegian intensifiers are capitalised and some end in a space ("Meget ", "Veldig "), so its
  lower-cased lookup never finds them: here they are lower-case and stripped.
- Norwegian negations get Bokmål "aldri" and Nynorsk "ikkje", "aldri", "ingenting", "inkje", "korkje"
  (asent has only Danish spellings such as "aldrig").
- Danish gets "meget", "rigtig", "vildt", "super" ... (asent's list is VADER's translated and lacks them).
- Swedish gets the contrast words "men" and "dock" (asent has none for Swedish), and loses the negations
  "sällan" (seldom) and "trots" (despite), which do not reverse what follows them.
Multi-word intensifiers ("med nød og neppe") are left out: the scorer looks intensifiers up one word at a time.
"""

from __future__ import annotations

#: VADER's empirically derived constants (Hutto & Gilbert 2014), as asent uses them.
B_INCR = 0.293
B_DECR = -0.293
#: added to the valence of a word written in capitals among words that are not
C_INCR = 0.733
#: a negated word's valence is multiplied by this
N_SCALAR = -0.74
#: within a sentence, words before the first contrast word count half, the rest one and a half
BEFORE_CONTRAST = 0.5
AFTER_CONTRAST = 1.5
#: how far back negations and intensifiers reach, and how much an intensifier weighs at each distance
LOOKBACK_WEIGHTS = (1.0, 0.95, 0.90)

_NORDIC_SWEARING = {w: B_INCR for w in ("fucking", "fuckin", "fricking", "friggin", "effing", "hella", "uber")}

DANISH_NEGATIONS = frozenset({"ikke", "ik", "ikk", "ik'", "aldrig", "ingen", "intet", "ingenting", "hverken"})
DANISH_CONTRAST = frozenset({"men", "dog"})
DANISH_INTENSIFIERS = _NORDIC_SWEARING | {
    **dict.fromkeys(
        (
            "absolut", "vældig", "vældigt", "helt", "betydelig", "betydeligt", "bestemt", "enorm", "enormt",
            "ekstrem", "ekstremt", "yderst", "fantastisk", "intensiv", "mest", "særskilt", "ganske", "væsentlig",
            "virkelig", "særlig", "særligt", "meget", "mega", "rigtig", "rigtigt", "utrolig", "utroligt", "total",
            "totalt", "vildt", "super", "særdeles", "hamrende", "pisse", "komplet", "fuldstændig",
            "fuldstændigt", "seriøst",
        ),
        B_INCR,
    ),
    **dict.fromkeys(("lidt", "næsten", "knap", "knapt", "nogenlunde", "delvis", "sjældent"), B_DECR),
}  # fmt: skip

NORWEGIAN_NEGATIONS = frozenset(
    {"ikke", "ikkje", "ik", "ikk", "aldri", "aldrig", "ingen", "inga", "ingenting", "inkje", "verken", "korkje"}
)
NORWEGIAN_CONTRAST = frozenset({"men", "dog"})
NORWEGIAN_INTENSIFIERS = _NORDIC_SWEARING | {
    **dict.fromkeys(
        (
            # Bokmål
            "temmelig", "meget", "mega", "ekstremt", "totalt", "utrolig", "veldig", "bestemt", "seriøst",
            "absolutt", "helt", "betydelig", "dypt", "enormt", "spesielt", "eksepsjonelt", "ytterst", "fantastisk",
            "høyst", "særdeles", "intenst", "sykt", "mest", "særlig", "ganske", "bemerkelsesverdig", "svært",
            "uvanlig", "mye", "kjempe", "skikkelig", "fullstendig",
            # Nynorsk
            "mykje", "utruleg", "heilt", "betydeleg", "uvanleg", "yttarst", "høgst", "særs", "sjukt", "særleg",
            "skikkeleg",
        ),
        B_INCR,
    ),
    **dict.fromkeys(
        ("nesten", "knapt", "marginalt", "omtrent", "noenlunde", "litt", "lite", "delvis", "sjelden", "noko",
         "nokolunde", "sjeldan", "nokså"),
        B_DECR,
    ),
}  # fmt: skip

SWEDISH_NEGATIONS = frozenset(
    {"inte", "icke", "ej", "varken", "aldrig", "ingen", "inget", "inga", "nej", "ingenting", "ingenstans", "utan"}
)
SWEDISH_CONTRAST = frozenset({"men", "dock"})
SWEDISH_INTENSIFIERS = _NORDIC_SWEARING | {
    **dict.fromkeys(
        (
            "absolut", "otroligt", "väldigt", "helt", "betydande", "betydligt", "bestämt", "djupt", "enorm",
            "enormt", "framförallt", "speciellt", "exceptionell", "exceptionellt", "extrem", "extremt", "ytterst",
            "fantastiskt", "fullt", "mycket", "högt", "högst", "intensivt", "sjukt", "mestadels", "mest",
            "särskilt", "ganska", "anmärkningsvärt", "väsentligen", "genomgående", "total", "grundligt", "totalt",
            "oerhört", "ovanligt", "jätte", "riktigt", "super", "fruktansvärt",
        ),
        B_INCR,
    ),
    **dict.fromkeys(
        ("nästan", "knappt", "marginellt", "ungefär", "någorlunda", "mindre", "lite", "litet", "ibland",
         "stundvis", "delvis", "sällsynt", "viss"),
        B_DECR,
    ),
}  # fmt: skip

#: Service-failure words the lexicons miss or rate mildly (lytte's own list, in the spirit of the English
#: complaint rules): a post about a delay or a cancellation is a complaint. Values on the AFINN scale.
SERVICE_FAILURES = {
    "da": {
        "forsinket": -2, "forsinkelse": -2, "forsinkelser": -2, "forsinkede": -2, "aflyst": -2, "aflysning": -2,
        "aflyste": -2, "aflysninger": -2, "nedbrud": -2, "svindel": -3, "refusion": -1, "bortkommen": -2,
    },
    "no": {
        "forsinket": -2, "forsinkelse": -2, "forsinkelser": -2, "forsinka": -2, "forseinka": -2, "avlyst": -2,
        "avlysning": -2, "innstilt": -1, "kansellert": -2, "nedetid": -2, "svindel": -3, "refusjon": -1,
    },
    "sv": {
        "försenad": -2, "försenat": -2, "försenade": -2, "försening": -2, "förseningar": -2, "inställd": -2,
        "inställt": -2, "inställda": -2, "avbokad": -1, "bedrägeri": -3, "återbetalning": -1, "borttappad": -2,
    },
}  # fmt: skip
