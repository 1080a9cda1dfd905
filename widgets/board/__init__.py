"""The board: columns of cards, the card text, the / filter."""
